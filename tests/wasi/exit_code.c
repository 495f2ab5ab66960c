/* proc_exit: `exit N` exits with N, `return N` returns N from main (which
 * wasi-libc's _start passes to proc_exit), `trap` aborts. */
#include <stdlib.h>
#include "check.h"

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    int code = atoi(argv[2]);
    printf("%s %d\n", argv[1], code);
    fflush(stdout);
    if (strcmp(argv[1], "exit") == 0)
        exit(code);
    if (strcmp(argv[1], "trap") == 0)
        abort();
    return code;
}
