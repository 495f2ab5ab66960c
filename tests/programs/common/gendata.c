/* Writes SIZE bytes of deterministic, moderately compressible text to OUT:
 * lines of words drawn from a small vocabulary by a fixed-seed xorshift
 * generator, with runs of digits mixed in, so that every compressor has both
 * matches and literals to work on. The tests and the benchmark feed the
 * native and WASI builds the same file this way.
 *
 * usage: gendata SIZE OUT [SEED] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state;

static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

int main(int argc, char **argv) {
    static const char *words[] = {
        "kiln", "fires", "clay", "into", "stone", "the", "module", "table", "memory", "of",
        "a", "function", "returns", "value", "branch", "loop", "block", "global", "import",
        "export", "with", "every", "byte", "compressed", "again", "and", "then", "restored",
    };
    const size_t nwords = sizeof words / sizeof *words;
    if (argc < 3) {
        fprintf(stderr, "usage: %s SIZE OUT [SEED]\n", argv[0]);
        return 2;
    }
    long long size = atoll(argv[1]);
    state = argc > 3 ? strtoull(argv[3], NULL, 10) : 0x9e3779b97f4a7c15ull;
    if (state == 0) state = 1;
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    long long written = 0;
    int column = 0;
    while (written < size) {
        char buf[64];
        int n;
        uint64_t r = next();
        if (r % 11 == 0)
            n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)(r >> 20) % 1000003);
        else
            n = snprintf(buf, sizeof buf, "%s", words[(r >> 8) % nwords]);
        if (column + n + 1 > 72) {
            buf[n++] = '\n';
            column = 0;
        } else {
            buf[n++] = ' ';
            column += n;
        }
        if (written + n > size) n = (int)(size - written);
        fwrite(buf, 1, (size_t)n, out);
        written += n;
    }
    return fclose(out) ? 1 : 0;
}
