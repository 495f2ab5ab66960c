/* poll_oneoff for clocks and stdio, and sched_yield. Expects "ping\n" on
 * stdin and a pipe or file as stdout. */
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>
#include "check.h"

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(void) {
    struct pollfd in = {.fd = 0, .events = POLLIN};
    CHECK("stdin becomes readable", poll(&in, 1, 5000) == 1 && (in.revents & POLLIN));
    char buf[16] = {0};
    CHECK("read stdin", read(0, buf, sizeof buf) == 5 && strcmp(buf, "ping\n") == 0);
    struct pollfd out = {.fd = 1, .events = POLLOUT};
    CHECK("stdout is writable", poll(&out, 1, 5000) == 1 && (out.revents & POLLOUT));

    int64_t start = now_ns();
    CHECK("poll with no descriptors times out", poll(NULL, 0, 30) == 0);
    CHECK("after 30ms", now_ns() - start >= 30 * 1000000);

    __wasi_subscription_t subs[2];
    __wasi_event_t events[2];
    __wasi_size_t count = 0;
    __wasi_timestamp_t realtime;
    CHECK("realtime now", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &realtime) == 0);
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 7;
    subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[0].u.u.clock.id = __WASI_CLOCKID_REALTIME;
    subs[0].u.u.clock.timeout = realtime + 10 * 1000000;
    subs[0].u.u.clock.flags = __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME;
    subs[1].userdata = 8;
    subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[1].u.u.clock.timeout = 60ull * 1000000000;
    CHECK("absolute realtime deadline", __wasi_poll_oneoff(subs, events, 2, &count) == 0 && count == 1 &&
                                            events[0].userdata == 7 && events[0].error == 0 &&
                                            events[0].type == __WASI_EVENTTYPE_CLOCK);

    memset(subs, 0, sizeof subs);
    subs[0].userdata = 9;
    subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[0].u.u.fd_read.file_descriptor = 99;
    CHECK("a bad descriptor is an event with EBADF", __wasi_poll_oneoff(subs, events, 1, &count) == 0 &&
                                                         count == 1 && events[0].userdata == 9 &&
                                                         events[0].error == __WASI_ERRNO_BADF);
    CHECK("no subscriptions is EINVAL", __wasi_poll_oneoff(subs, events, 0, &count) == __WASI_ERRNO_INVAL);
    CHECK("sched_yield", sched_yield() == 0);
    CHECK("usleep", usleep(1000) == 0);
    printf("%d failures\n", failures);
    return failures;
}
