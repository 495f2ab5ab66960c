/* The WASI command the containerd tests run in a container: each mode
 * shows one thing the shim must pass through from the container.
 *
 *   greeter                 "hello from kiln", then $GREETING if set
 *   greeter args A B ...    its arguments, one a line, argv[0] first
 *   greeter cat FILE        FILE's contents (a volume's file)
 *   greeter stdin           the first line of its standard input
 *   greeter write FILE TEXT writes TEXT to FILE, then reads it back
 *   greeter exit N          exits with status N
 *   greeter sleep           "sleeping", then sleeps until stopped
 *   greeter trap            traps (unreachable)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cat(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "greeter: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (argc == 1) {
        printf("hello from kiln\n");
        fflush(stdout);
        const char *greeting = getenv("GREETING");
        if (greeting)
            printf("GREETING=%s\n", greeting);
        return 0;
    }
    if (!strcmp(mode, "args")) {
        for (int i = 0; i < argc; i++)
            printf("%s\n", argv[i]);
        return 0;
    }
    if (!strcmp(mode, "stdin")) {
        /* One line, not all of it: ctr does not pass on the end of its
         * own input. */
        char line[4096];
        if (!fgets(line, sizeof line, stdin))
            return 1;
        fputs(line, stdout);
        return 0;
    }
    if (!strcmp(mode, "cat") && argc == 3)
        return cat(argv[2]);
    if (!strcmp(mode, "write") && argc == 4) {
        FILE *f = fopen(argv[2], "w");
        if (!f || fputs(argv[3], f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "greeter: cannot write %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        return cat(argv[2]);
    }
    if (!strcmp(mode, "exit") && argc == 3) {
        printf("exiting with %s\n", argv[2]);
        exit(atoi(argv[2]));
    }
    if (!strcmp(mode, "sleep")) {
        printf("sleeping\n");
        fflush(stdout);
        for (;;)
            sleep(1);
    }
    if (!strcmp(mode, "trap")) {
        printf("trapping\n");
        fflush(stdout);
        __builtin_trap();
    }
    fprintf(stderr, "greeter: unknown mode %s\n", mode);
    return 2;
}
