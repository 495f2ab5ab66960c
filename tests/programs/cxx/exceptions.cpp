// C++ exceptions end to end: std::runtime_error thrown through several
// frames (one with a destructor that must run while unwinding) and caught,
// then a thrown int. Built natively and with
// `em++ -O2 -fwasm-exceptions -sSTANDALONE_WASM` (legacy Wasm exceptions,
// WASI imports only) by tests/tests/cxx_exceptions.rs, which requires both
// builds to print the same.
#include <cstdio>
#include <stdexcept>
#include <string>

static int depth_reached = 0;

__attribute__((noinline)) int level3(int n) {
    depth_reached = 3;
    if (n > 2) throw std::runtime_error("too deep: " + std::to_string(n));
    return n * 10;
}
__attribute__((noinline)) int level2(int n) { return level3(n) + 1; }
__attribute__((noinline)) int level1(int n) {
    struct Guard { ~Guard() { std::printf("unwinding level1\n"); } } guard;
    return level2(n) + 1;
}

int main() {
    for (int n = 1; n <= 4; n++) {
        try {
            std::printf("level1(%d) = %d\n", n, level1(n));
        } catch (const std::runtime_error &e) {
            std::printf("caught: %s (depth %d)\n", e.what(), depth_reached);
        }
    }
    try {
        throw 42;
    } catch (int v) {
        std::printf("caught int %d\n", v);
    }
    return 0;
}
