// Traps in a named function at a known line, for backtraces that show
// source lines from the DWARF of `clang -g` (tests/tests/backtraces.rs).
#include <stdio.h>

__attribute__((noinline)) static void crash(const char *why) {
    puts(why);
    __builtin_trap(); // the trapping line
}

int main(void) {
    crash("about to trap");
    return 0;
}
