/* kiln's bundled WASI example (`make run`): counts the lines, words and
 * bytes of the files it is given, as wc does, then lists the directory it
 * was let into. It sees only that directory: the host's others do not exist
 * for it. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    long total[3] = {0, 0, 0};
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        long lines = 0, words = 0, bytes = 0;
        int c, in_word = 0;
        while ((c = getc(f)) != EOF) {
            bytes++;
            lines += c == '\n';
            if (isspace(c))
                in_word = 0;
            else if (!in_word) {
                in_word = 1;
                words++;
            }
        }
        fclose(f);
        printf("%7ld %7ld %7ld %s\n", lines, words, bytes, argv[i]);
        total[0] += lines, total[1] += words, total[2] += bytes;
    }
    if (argc > 2)
        printf("%7ld %7ld %7ld total\n", total[0], total[1], total[2]);

    const char *dir = getenv("LIST");
    DIR *d = opendir(dir ? dir : "/");
    if (!d) {
        perror(dir ? dir : "/");
        return 1;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    printf("%s holds %d files:", dir ? dir : "/", n);
    for (int i = 0; i < n; i++)
        printf(" %s", names[i]);
    printf("\n");
    FILE *outside = fopen("/etc/passwd", "r");
    printf("and /etc/passwd is %s\n", outside ? "readable (sandbox broken!)" : "out of reach: the sandbox holds");
    return outside != NULL;
}
