/* Compresses IN into OUT with zstd's streaming API at LEVEL, or with -d
 * decompresses IN into OUT, in small chunks so that the stream state carries
 * across many calls. Prints the sizes and an FNV-1a hash of the uncompressed
 * data; frames carry a content checksum that decompression verifies.
 *
 * usage: zstdpipe -LEVEL IN OUT | zstdpipe -d IN OUT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zstd.h"

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int check(size_t r, const char *what) {
    if (ZSTD_isError(r)) {
        fprintf(stderr, "zstdpipe: %s: %s\n", what, ZSTD_getErrorName(r));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 || argv[1][0] != '-') {
        fprintf(stderr, "usage: zstdpipe -LEVEL IN OUT | zstdpipe -d IN OUT\n");
        return 2;
    }
    int decompress = strcmp(argv[1], "-d") == 0;
    int level = decompress ? 0 : atoi(argv[1] + 1);
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    if (!in || !out) {
        perror(!in ? argv[2] : argv[3]);
        return 1;
    }
    size_t inCap = decompress ? ZSTD_DStreamInSize() : ZSTD_CStreamInSize();
    size_t outCap = decompress ? ZSTD_DStreamOutSize() : ZSTD_CStreamOutSize();
    unsigned char *ibuf = malloc(inCap), *obuf = malloc(outCap);
    uint64_t hash = 0xcbf29ce484222325ull;
    unsigned long long read_total = 0, written = 0;
    size_t n;
    if (decompress) {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        size_t last = 0;
        while ((n = fread(ibuf, 1, inCap, in)) > 0) {
            read_total += n;
            ZSTD_inBuffer input = {ibuf, n, 0};
            while (input.pos < input.size) {
                ZSTD_outBuffer output = {obuf, outCap, 0};
                last = ZSTD_decompressStream(d, &output, &input);
                if (check(last, argv[2])) return 1;
                hash = fnv(hash, obuf, output.pos);
                written += output.pos;
                fwrite(obuf, 1, output.pos, out);
            }
        }
        if (last != 0) {
            fprintf(stderr, "zstdpipe: %s: truncated frame\n", argv[2]);
            return 1;
        }
        ZSTD_freeDCtx(d);
        printf("%llu -> %llu bytes, fnv %016llx\n", read_total, written, (unsigned long long)hash);
    } else {
        ZSTD_CCtx *c = ZSTD_createCCtx();
        if (check(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level), "level") ||
            check(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1), "checksum"))
            return 1;
        for (;;) {
            n = fread(ibuf, 1, inCap, in);
            read_total += n;
            hash = fnv(hash, ibuf, n);
            int last = n < inCap;
            ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
            ZSTD_inBuffer input = {ibuf, n, 0};
            int done;
            do {
                ZSTD_outBuffer output = {obuf, outCap, 0};
                size_t remaining = ZSTD_compressStream2(c, &output, &input, mode);
                if (check(remaining, argv[2])) return 1;
                fwrite(obuf, 1, output.pos, out);
                written += output.pos;
                done = last ? remaining == 0 : input.pos == input.size;
            } while (!done);
            if (last) break;
        }
        ZSTD_freeCCtx(c);
        printf("level %d: %llu -> %llu bytes, fnv %016llx\n", level, read_total, written,
               (unsigned long long)hash);
    }
    if (ferror(in) || fclose(out) != 0) {
        fprintf(stderr, "zstdpipe: I/O error\n");
        return 1;
    }
    fclose(in);
    return 0;
}
