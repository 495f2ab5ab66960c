/* fd_* on regular files: write, read, seek, tell, pread, pwrite, allocate,
 * filestat get/set_size/set_times, fdstat get/set_flags/set_rights, advise,
 * sync, datasync, renumber, close, and the prestat of the preopened
 * directory. argv[1] is the guest path of a writable directory. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>
#include "check.h"

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    const char *dir = argv[1];
    char path[512], other[512];
    snprintf(path, sizeof path, "%s/data.bin", dir);
    snprintf(other, sizeof other, "%s/other.txt", dir);

    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK("open O_CREAT|O_RDWR", fd >= 0);
    CHECK("write", write(fd, "hello, world\n", 13) == 13);
    __wasi_filesize_t position = 0;
    CHECK("tell", __wasi_fd_tell(fd, &position) == 0 && position == 13);
    CHECK("seek set", lseek(fd, 7, SEEK_SET) == 7);
    char buf[64] = {0};
    CHECK("read", read(fd, buf, 5) == 5 && memcmp(buf, "world", 5) == 0);
    CHECK("seek cur", lseek(fd, -5, SEEK_CUR) == 7);
    CHECK("seek end", lseek(fd, 0, SEEK_END) == 13);
    CHECK("negative seek is EINVAL", lseek(fd, -100, SEEK_SET) < 0 && errno == EINVAL);
    CHECK("pwrite", pwrite(fd, "WORLD", 5, 7) == 5);
    memset(buf, 0, sizeof buf);
    CHECK("pread", pread(fd, buf, 5, 7) == 5 && memcmp(buf, "WORLD", 5) == 0);
    CHECK("pread leaves the position", lseek(fd, 0, SEEK_CUR) == 13);
    CHECK("read at end is 0", read(fd, buf, sizeof buf) == 0);

    struct stat st;
    CHECK("posix_fallocate", posix_fallocate(fd, 0, 4096) == 0);
    CHECK("fstat after allocate", fstat(fd, &st) == 0 && st.st_size == 4096 && S_ISREG(st.st_mode));
    CHECK("ftruncate", ftruncate(fd, 100) == 0);
    CHECK("fstat after truncate", fstat(fd, &st) == 0 && st.st_size == 100 && st.st_nlink == 1 && st.st_ino != 0);
    CHECK("posix_fadvise", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0);
    CHECK("fsync", fsync(fd) == 0);
    CHECK("fdatasync", fdatasync(fd) == 0);
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 500}};
    CHECK("futimens", futimens(fd, times) == 0);
    CHECK("fstat times", fstat(fd, &st) == 0 && st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 500 &&
                             st.st_atim.tv_sec == 1000000000);
    /* This wasi-libc's futimens refuses UTIME_OMIT, so the call is made raw. */
    CHECK("set mtime to now, leave atime", __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW) == 0 &&
                                               fstat(fd, &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
                                               st.st_mtim.tv_sec > 1577836800);
    CHECK("time and now together is EINVAL",
          __wasi_fd_filestat_set_times(fd, 1, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW) ==
              __WASI_ERRNO_INVAL);

    __wasi_fdstat_t fdstat;
    CHECK("fdstat of a file", __wasi_fd_fdstat_get(fd, &fdstat) == 0 &&
                                  fdstat.fs_filetype == __WASI_FILETYPE_REGULAR_FILE && fdstat.fs_flags == 0);
    CHECK("F_GETFL", (fcntl(fd, F_GETFL) & O_APPEND) == 0);
    CHECK("F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND) == 0 && (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    lseek(fd, 0, SEEK_SET);
    CHECK("append writes at the end", write(fd, "tail", 4) == 4 && fstat(fd, &st) == 0 && st.st_size == 104);
    CHECK("drop a right", __wasi_fd_fdstat_set_rights(fd, fdstat.fs_rights_base & ~__WASI_RIGHTS_FD_ALLOCATE,
                                                      fdstat.fs_rights_inheriting) == 0);
    CHECK("a dropped right cannot come back",
          __wasi_fd_fdstat_set_rights(fd, fdstat.fs_rights_base, fdstat.fs_rights_inheriting) ==
              __WASI_ERRNO_NOTCAPABLE);
    CHECK("close", close(fd) == 0);
    CHECK_ERRNO("closed descriptor is EBADF", close(fd), EBADF);

    int ro = open(path, O_RDONLY);
    CHECK("open O_RDONLY", ro >= 0);
    CHECK_ERRNO("write to a read-only descriptor", (int)write(ro, "x", 1), EBADF);
    memset(buf, 0, sizeof buf);
    CHECK("read back", read(ro, buf, 13) == 13 && memcmp(buf, "hello, WORLD\n", 13) == 0);

    FILE *f = fopen(other, "w");
    CHECK("fopen w", f != NULL);
    fprintf(f, "line %d\n", 42);
    CHECK("fclose", fclose(f) == 0);
    f = fopen(other, "a");
    fputs("appended\n", f);
    fclose(f);
    f = fopen(other, "r");
    char line[64];
    CHECK("fgets 1", fgets(line, sizeof line, f) && strcmp(line, "line 42\n") == 0);
    CHECK("fgets 2", fgets(line, sizeof line, f) && strcmp(line, "appended\n") == 0);
    fclose(f);

    int second = open(other, O_RDONLY);
    CHECK("renumber", __wasi_fd_renumber(second, ro) == 0);
    CHECK("renumbered source is closed", __wasi_fd_close(second) == __WASI_ERRNO_BADF);
    memset(buf, 0, sizeof buf);
    CHECK("renumbered target reads the other file", read(ro, buf, 7) == 7 && memcmp(buf, "line 42", 7) == 0);
    CHECK("renumber to a closed number is EBADF", __wasi_fd_renumber(ro, 999) == __WASI_ERRNO_BADF);
    close(ro);

    CHECK_ERRNO("O_EXCL on an existing file", open(path, O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_ERRNO("missing file", open(path, O_RDONLY), ENOENT);
    CHECK_ERRNO("O_DIRECTORY on a file", open(other, O_RDONLY | O_DIRECTORY), ENOTDIR);

    __wasi_prestat_t prestat;
    char name[64] = {0};
    CHECK("prestat of fd 3", __wasi_fd_prestat_get(3, &prestat) == 0 && prestat.tag == __WASI_PREOPENTYPE_DIR &&
                                 prestat.u.dir.pr_name_len == strlen(dir));
    CHECK("prestat name", __wasi_fd_prestat_dir_name(3, (uint8_t *)name, prestat.u.dir.pr_name_len) == 0 &&
                              strcmp(name, dir) == 0);
    CHECK("no prestat for stdout", __wasi_fd_prestat_get(1, &prestat) == __WASI_ERRNO_BADF);
    CHECK("stdout has fdstat", __wasi_fd_fdstat_get(1, &fdstat) == 0);
    CHECK("seek on a directory is EBADF", __wasi_fd_seek(3, 0, __WASI_WHENCE_SET, &position) == __WASI_ERRNO_BADF);
    printf("%d failures\n", failures);
    return failures;
}
