/* clock_res_get, clock_time_get (every clock), random_get, and the clock
 * side of poll_oneoff through nanosleep. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>
#include "check.h"

static int64_t ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

int main(void) {
    struct timespec real, m1, m2, res;
    CHECK("realtime", clock_gettime(CLOCK_REALTIME, &real) == 0 && real.tv_sec > 1577836800);
    CHECK("time()", time(NULL) >= real.tv_sec);
    CHECK("monotonic", clock_gettime(CLOCK_MONOTONIC, &m1) == 0);
    struct timespec nap = {0, 20 * 1000 * 1000};
    CHECK("nanosleep 20ms", nanosleep(&nap, NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    CHECK("monotonic advanced by the nap", ns(m2) - ns(m1) >= 20 * 1000 * 1000);
    CHECK("resolution", clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(res) > 0);
    __wasi_timestamp_t t = 0, r = 0;
    CHECK("process cputime", __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &t) == 0 && t > 0);
    CHECK("thread cputime", __wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &t) == 0 && t > 0);
    CHECK("realtime resolution", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &r) == 0 && r > 0);
    CHECK("unknown clock is EINVAL", __wasi_clock_time_get(99, 1, &t) == __WASI_ERRNO_INVAL);

    unsigned char a[32] = {0}, b[32] = {0};
    CHECK("getentropy", getentropy(a, sizeof a) == 0 && getentropy(b, sizeof b) == 0);
    CHECK("two draws differ", memcmp(a, b, sizeof a) != 0);
    static unsigned char big[200000];
    CHECK("random_get of 200000 bytes", __wasi_random_get(big, sizeof big) == 0);
    int zeros = 0;
    for (size_t i = 0; i < sizeof big; i++)
        zeros += big[i] == 0;
    CHECK("random bytes look random", zeros > 400 && zeros < 1200);
    return failures;
}
