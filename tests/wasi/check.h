/* The checks that the WASI test programs print: one line per check, so a
 * test compares the whole output and a failure names itself. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(label, cond)                                                     \
    do {                                                                       \
        int ok_ = (cond);                                                      \
        if (ok_)                                                               \
            printf("%s: ok\n", label);                                         \
        else {                                                                 \
            printf("%s: FAILED (errno %d %s)\n", label, errno, strerror(errno)); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* A call that must fail with `expected` (errno). */
#define CHECK_ERRNO(label, call, expected)                                     \
    do {                                                                       \
        errno = 0;                                                             \
        int r_ = (call);                                                       \
        if (r_ < 0 && errno == (expected))                                     \
            printf("%s: ok\n", label);                                         \
        else {                                                                 \
            printf("%s: FAILED (result %d, errno %d %s)\n", label, r_, errno,  \
                   strerror(errno));                                           \
            failures++;                                                        \
        }                                                                      \
    } while (0)

#define WASI_IMPORT(name)                                                      \
    __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
