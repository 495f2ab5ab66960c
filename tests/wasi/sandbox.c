/* Escape attempts from the preopened directory /sandbox. The test lays out
 *   root/outside.txt, root/outdir/          (must stay untouched)
 *   root/box/ = /sandbox: inside.txt, sub/, and host-made symlinks
 *     escape-rel -> ../outside.txt, escape-abs -> /abs/root/outside.txt,
 *     escape-dir -> ..
 * and checks that every attempt is refused and nothing outside changed. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>
#include "check.h"

static int attempts, refused;

/* `escaped` is whether the attempt got through. */
static void report(const char *label, int escaped, int error) {
    attempts++;
    if (escaped) {
        printf("%s: ESCAPED\n", label);
    } else {
        refused++;
        printf("%s: refused (errno %d)\n", label, error);
    }
}

#define LIBC(label, call)                                                      \
    do {                                                                       \
        errno = 0;                                                             \
        int r_ = (call);                                                       \
        report(label, r_ >= 0, errno);                                         \
    } while (0)

#define RAW(label, call)                                                       \
    do {                                                                       \
        __wasi_errno_t e_ = (call);                                            \
        report(label, e_ == 0, e_);                                            \
    } while (0)

static int open_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d)
        return -1;
    closedir(d);
    return 0;
}

int main(void) {
    struct stat st;
    struct timespec times[2] = {{1, 0}, {1, 0}};
    LIBC("open ..", open("/sandbox/../outside.txt", O_RDONLY));
    LIBC("open sub/../..", open("/sandbox/sub/../../outside.txt", O_RDONLY));
    LIBC("open an absolute host path", open("/etc/passwd", O_RDONLY));
    LIBC("open a relative symlink out", open("/sandbox/escape-rel", O_RDONLY));
    LIBC("open an absolute symlink out", open("/sandbox/escape-abs", O_RDONLY));
    LIBC("open through a symlink to ..", open("/sandbox/escape-dir/outside.txt", O_RDONLY));
    LIBC("truncate through a symlink out", open("/sandbox/escape-rel", O_WRONLY | O_TRUNC));
    LIBC("create ..", open("/sandbox/../created.txt", O_CREAT | O_WRONLY, 0644));
    LIBC("rename out", rename("/sandbox/inside.txt", "/sandbox/../moved.txt"));
    LIBC("rename in from outside", rename("/sandbox/../outside.txt", "/sandbox/stolen.txt"));
    LIBC("rename out through a symlinked dir", rename("/sandbox/inside.txt", "/sandbox/escape-dir/moved.txt"));
    LIBC("hard link to an outside file", link("/sandbox/../outside.txt", "/sandbox/hardlink"));
    LIBC("hard link placed outside", link("/sandbox/inside.txt", "/sandbox/../hardlink"));
    LIBC("mkdir ..", mkdir("/sandbox/../newdir", 0755));
    LIBC("rmdir ..", rmdir("/sandbox/../outdir"));
    LIBC("unlink ..", unlink("/sandbox/../outside.txt"));
    LIBC("unlink through a symlinked dir", unlink("/sandbox/escape-dir/outside.txt"));
    LIBC("stat ..", stat("/sandbox/../outside.txt", &st));
    LIBC("stat through a symlink out", stat("/sandbox/escape-rel", &st));
    LIBC("utimensat ..", utimensat(AT_FDCWD, "/sandbox/../outside.txt", times, 0));
    LIBC("opendir ..", open_dir("/sandbox/.."));
    LIBC("opendir a symlink to ..", open_dir("/sandbox/escape-dir"));
    LIBC("truncate() through a symlink out", truncate("/sandbox/escape-rel", 0));
    /* A link the guest makes itself is stored, but never followed out. */
    symlink("../outside.txt", "/sandbox/mylink");
    LIBC("open a guest-made symlink out", open("/sandbox/mylink", O_RDONLY));
    symlink("../created-through-link.txt", "/sandbox/mylink2");
    LIBC("create through a guest-made symlink", open("/sandbox/mylink2", O_CREAT | O_WRONLY, 0644));
    LIBC("symlink with an absolute target", symlink("/etc/passwd", "/sandbox/abslink"));

    __wasi_fd_t fd;
    __wasi_rights_t all = ~(__wasi_rights_t)0 >> 34;
    __wasi_filestat_t fst;
    __wasi_size_t used;
    uint8_t buf[64];
    RAW("raw open absolute", __wasi_path_open(3, 0, "/etc/passwd", 0, all, all, 0, &fd));
    RAW("raw open ..", __wasi_path_open(3, 0, "../outside.txt", 0, all, all, 0, &fd));
    RAW("raw open a symlink out", __wasi_path_open(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "escape-abs", 0, all, all, 0, &fd));
    RAW("raw open dir ..", __wasi_path_open(3, 0, "..", __WASI_OFLAGS_DIRECTORY, all, all, 0, &fd));
    RAW("raw rename out", __wasi_path_rename(3, "inside.txt", 3, "../moved.txt"));
    RAW("raw mkdir absolute", __wasi_path_create_directory(3, "/tmp/kiln-escape-test"));
    RAW("raw symlink placed outside", __wasi_path_symlink("inside.txt", 3, "sub/../../placed-link"));
    RAW("raw filestat through a symlinked dir",
        __wasi_path_filestat_get(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "escape-dir/outside.txt", &fst));
    RAW("raw unlink ..", __wasi_path_unlink_file(3, "../outside.txt"));
    RAW("raw readlink ..", __wasi_path_readlink(3, "../box/escape-rel", buf, sizeof buf, &used));
    RAW("raw link out", __wasi_path_link(3, 0, "inside.txt", 3, "../linked.txt"));
    printf("attempts: %d, refused: %d\n", attempts, refused);
    return attempts == refused ? 0 : 1;
}
