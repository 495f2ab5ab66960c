/* args_* and environ_*: the arguments and environment given by `kiln run`. */
#include <stdlib.h>
#include "check.h"

extern char **environ;

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    CHECK("argv0 names the artifact", strstr(argv[0], ".o") != NULL);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    const char *empty = getenv("EMPTY");
    printf("EMPTY=%s\n", empty ? (*empty ? empty : "(empty)") : "(unset)");
    /* Only what --env gives reaches the program: the host's HOME does not. */
    const char *home = getenv("HOME");
    printf("HOME=%s\n", home ? home : "(unset)");
    int count = 0;
    for (char **e = environ; *e; e++)
        count++;
    printf("environ has %d entries\n", count);
    return failures;
}
