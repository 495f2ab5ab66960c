/* What a WASI program sees of the host: each preopened directory with the
 * names in it, sorted, then every environment variable, in order. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

extern char **environ;

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        printf(" (cannot list)");
        return;
    }
    char *names[256];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) && count < 256)
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            names[count++] = strdup(entry->d_name);
    closedir(d);
    qsort(names, count, sizeof names[0], by_name);
    for (int i = 0; i < count; i++)
        printf(" %s", names[i]);
}

int main(void) {
    /* Descriptors 0 to 2 are the streams; preopens follow from 3. */
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t prestat;
        if (__wasi_fd_prestat_get(fd, &prestat) != 0 || prestat.tag != __WASI_PREOPENTYPE_DIR)
            continue;
        char name[256];
        size_t len = prestat.u.dir.pr_name_len;
        if (len >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len) != 0)
            continue;
        name[len] = 0;
        printf("preopen %s:", name);
        list(name);
        printf("\n");
    }
    for (char **e = environ; *e; e++)
        printf("env %s\n", *e);
    return 0;
}
