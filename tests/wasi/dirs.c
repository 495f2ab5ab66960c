/* path_* and fd_readdir: directories, listing, rename, symlink, readlink,
 * hard links, unlink, filestat and times by path. argv[1] is the guest path
 * of a writable directory. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"

static char buf[1024];
static const char *at(const char *dir, const char *name) {
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static int touch(const char *path, const char *content) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int n = write(fd, content, strlen(content));
    close(fd);
    return n;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sub", argv[1]);
    CHECK("mkdir", mkdir(sub, 0755) == 0);
    CHECK_ERRNO("mkdir again", mkdir(sub, 0755), EEXIST);
    CHECK("create a.txt", touch(at(sub, "a.txt"), "alpha\n") == 6);
    CHECK("create b.txt", touch(at(sub, "b.txt"), "bravo\n") == 6);
    CHECK("mkdir inner", mkdir(at(sub, "inner"), 0755) == 0);

    DIR *d = opendir(sub);
    CHECK("opendir", d != NULL);
    char *names[16];
    int n = 0, dots = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 16) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            dots++;
            continue;
        }
        names[n++] = strdup(e->d_name);
        if (strcmp(e->d_name, "inner") == 0)
            CHECK("inner is a directory entry", e->d_type == DT_DIR);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof *names, by_name);
    printf("listing:");
    for (int i = 0; i < n; i++)
        printf(" %s", names[i]);
    printf(" (and %d dot entries)\n", dots);

    char from[512], to[512];
    snprintf(from, sizeof from, "%s/a.txt", sub);
    snprintf(to, sizeof to, "%s/renamed.txt", sub);
    CHECK("rename", rename(from, to) == 0);
    struct stat st;
    CHECK_ERRNO("old name is gone", stat(from, &st), ENOENT);
    snprintf(from, sizeof from, "%s/b.txt", sub);
    snprintf(to, sizeof to, "%s/b-moved.txt", argv[1]);
    CHECK("rename across directories", rename(from, to) == 0 && stat(to, &st) == 0 && st.st_size == 6);

    snprintf(to, sizeof to, "%s/link", sub);
    CHECK("symlink", symlink("renamed.txt", to) == 0);
    char target[64] = {0};
    CHECK("readlink", readlink(to, target, sizeof target) == 11 && strcmp(target, "renamed.txt") == 0);
    char tiny[4] = {0};
    CHECK("readlink truncates", readlink(to, tiny, 4) == 4 && memcmp(tiny, "rena", 4) == 0);
    CHECK("lstat sees the link", lstat(to, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK("stat follows the link", stat(to, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 6);
    int fd = open(to, O_RDONLY);
    char content[16] = {0};
    CHECK("open through the link", fd >= 0 && read(fd, content, 6) == 6 && strcmp(content, "alpha\n") == 0);
    close(fd);
    CHECK_ERRNO("O_NOFOLLOW on a link", open(to, O_RDONLY | O_NOFOLLOW), ELOOP);

    snprintf(from, sizeof from, "%s/renamed.txt", sub);
    snprintf(to, sizeof to, "%s/hard", sub);
    CHECK("link", link(from, to) == 0);
    CHECK("two links", stat(from, &st) == 0 && st.st_nlink == 2);
    CHECK("unlink hard link", unlink(to) == 0 && stat(from, &st) == 0 && st.st_nlink == 1);
    CHECK("unlink symlink", unlink(at(sub, "link")) == 0);
    CHECK("target survives its link", stat(from, &st) == 0);

    struct timespec times[2] = {{2000000000, 0}, {1500000000, 0}};
    CHECK("utimensat", utimensat(AT_FDCWD, from, times, 0) == 0 && stat(from, &st) == 0 &&
                           st.st_mtim.tv_sec == 1500000000 && st.st_atim.tv_sec == 2000000000);

    CHECK_ERRNO("rmdir of a non-empty directory", rmdir(sub), ENOTEMPTY);
    CHECK("rmdir", rmdir(at(sub, "inner")) == 0);
    CHECK("unlink a directory is refused", unlink(sub) < 0);
    CHECK_ERRNO("rmdir a file", rmdir(from), ENOTDIR);

    /* Enough entries that readdir needs several fd_readdir calls. */
    char many[512];
    snprintf(many, sizeof many, "%s/many", argv[1]);
    mkdir(many, 0755);
    int made = 0;
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "file-with-a-longish-name-%03d", i);
        made += touch(at(many, name), "") == 0;
    }
    d = opendir(many);
    int seen = 0;
    while (d && (e = readdir(d)))
        seen += e->d_name[0] != '.';
    if (d)
        closedir(d);
    printf("created %d, listed %d\n", made, seen);
    CHECK("unlink", unlink(from) == 0);
    CHECK("rmdir emptied", rmdir(sub) == 0);
    printf("%d failures\n", failures);
    return failures;
}
