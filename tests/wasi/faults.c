/* Garbage pointers and descriptors: every call returns an errno and the
 * host goes on. The raw imports take plain integers so that any address
 * can be passed. */
#include <stdint.h>
#include <wasi/api.h>
#include "check.h"

WASI_IMPORT(fd_write) int32_t raw_fd_write(int32_t, int32_t, int32_t, int32_t);
WASI_IMPORT(fd_read) int32_t raw_fd_read(int32_t, int32_t, int32_t, int32_t);
WASI_IMPORT(args_sizes_get) int32_t raw_args_sizes_get(int32_t, int32_t);
WASI_IMPORT(args_get) int32_t raw_args_get(int32_t, int32_t);
WASI_IMPORT(path_open)
int32_t raw_path_open(int32_t, int32_t, int32_t, int32_t, int32_t, int64_t, int64_t, int32_t, int32_t);
WASI_IMPORT(random_get) int32_t raw_random_get(int32_t, int32_t);
WASI_IMPORT(clock_time_get) int32_t raw_clock_time_get(int32_t, int64_t, int32_t);
WASI_IMPORT(poll_oneoff) int32_t raw_poll_oneoff(int32_t, int32_t, int32_t, int32_t);
WASI_IMPORT(fd_readdir) int32_t raw_fd_readdir(int32_t, int32_t, int32_t, int64_t, int32_t);
WASI_IMPORT(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(int32_t, int32_t, int32_t);
WASI_IMPORT(fd_filestat_get) int32_t raw_fd_filestat_get(int32_t, int32_t);
WASI_IMPORT(environ_get) int32_t raw_environ_get(int32_t, int32_t);
WASI_IMPORT(fd_seek) int32_t raw_fd_seek(int32_t, int64_t, int32_t, int32_t);

#define FAULT(label, call) CHECK(label, (call) == __WASI_ERRNO_FAULT)

int main(void) {
    static __wasi_ciovec_t iov[1];
    static uint32_t out;
    FAULT("iovec array past the end", raw_fd_write(1, (int32_t)0xfffffff0u, 1, (int32_t)&out));
    iov[0].buf = (const uint8_t *)(uintptr_t)0xffffff00u;
    iov[0].buf_len = 0x1000;
    FAULT("iovec buffer past the end", raw_fd_write(1, (int32_t)iov, 1, (int32_t)&out));
    iov[0].buf = (const uint8_t *)"x";
    iov[0].buf_len = 1;
    FAULT("result pointer past the end", raw_fd_write(1, (int32_t)iov, 1, (int32_t)0xfffffffeu));
    FAULT("huge iovec count", raw_fd_write(1, (int32_t)iov, 0x7fffffff, (int32_t)&out));
    FAULT("args sizes", raw_args_sizes_get((int32_t)0xfffffffcu, (int32_t)&out));
    FAULT("args strings", raw_args_get((int32_t)&out, (int32_t)0xffffffffu));
    /* The test gives one environment variable, so there is something to write. */
    FAULT("environ strings", raw_environ_get((int32_t)0xfffffff0u, (int32_t)0xfffffff0u));
    FAULT("path past the end", raw_path_open(3, 0, (int32_t)0xffffff00u, 0x1000, 0, 0, 0, 0, (int32_t)&out));
    FAULT("random buffer", raw_random_get((int32_t)0xfffff000u, 0x2000));
    FAULT("clock result", raw_clock_time_get(0, 0, (int32_t)0xfffffffcu));
    FAULT("subscriptions", raw_poll_oneoff((int32_t)0xffffff00u, (int32_t)&out, 10, (int32_t)&out));
    FAULT("readdir buffer", raw_fd_readdir(3, (int32_t)0xfffffff0u, 100, 0, (int32_t)&out));
    FAULT("prestat name", raw_fd_prestat_dir_name(3, (int32_t)0xffffffffu, 100));
    FAULT("filestat", raw_fd_filestat_get(1, (int32_t)0xffffffc0u));
    CHECK("bad descriptor", raw_fd_write(1234, (int32_t)iov, 1, (int32_t)&out) == __WASI_ERRNO_BADF);
    CHECK("negative descriptor", raw_fd_write(-1, (int32_t)iov, 1, (int32_t)&out) == __WASI_ERRNO_BADF);
    CHECK("bad whence", raw_fd_seek(1, 0, 77, (int32_t)&out) == __WASI_ERRNO_INVAL);
    CHECK("sockets are not supported", __wasi_sock_shutdown(0, 0) == __WASI_ERRNO_NOTSUP);
    __wasi_fd_t fd;
    CHECK("path_open on a file descriptor is ENOTDIR",
          __wasi_path_open(1, 0, "x", 0, 0, 0, 0, &fd) == __WASI_ERRNO_NOTDIR);
    printf("survived with %d failures\n", failures);
    return failures;
}
