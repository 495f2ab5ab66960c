/* minigzip after zlib's own test program: compresses FILE into FILE.gz and
 * removes FILE, or with -d restores FILE from FILE.gz and removes FILE.gz,
 * through zlib's gz* stream API. Prints the sizes and the CRC-32 of the
 * uncompressed data.
 *
 * usage: minigzip [-d] [-1..-9] [-f|-h|-R] FILE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "zlib.h"

#define BUFLEN 16384

static int fail(const char *what, const char *why) {
    fprintf(stderr, "minigzip: %s: %s\n", what, why);
    return 1;
}

static int compress_file(const char *name, const char *mode) {
    char outname[4096];
    snprintf(outname, sizeof outname, "%s.gz", name);
    FILE *in = fopen(name, "rb");
    if (!in) return fail(name, "cannot open");
    gzFile out = gzopen(outname, mode);
    if (!out) {
        fclose(in);
        return fail(outname, "cannot create");
    }
    static unsigned char buf[BUFLEN];
    unsigned long crc = crc32(0L, Z_NULL, 0), total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        crc = crc32(crc, buf, (unsigned)n);
        total += n;
        if (gzwrite(out, buf, (unsigned)n) != (int)n) {
            int err;
            return fail(outname, gzerror(out, &err));
        }
    }
    if (ferror(in)) return fail(name, "read error");
    fclose(in);
    if (gzclose(out) != Z_OK) return fail(outname, "close failed");
    FILE *check = fopen(outname, "rb");
    fseek(check, 0, SEEK_END);
    long packed = ftell(check);
    fclose(check);
    if (unlink(name) != 0) return fail(name, "cannot remove");
    printf("%s: %lu -> %ld bytes, crc32 %08lx\n", name, total, packed, crc);
    return 0;
}

static int decompress_file(const char *name) {
    char outname[4096];
    size_t len = strlen(name);
    if (len < 4 || strcmp(name + len - 3, ".gz") != 0) return fail(name, "no .gz suffix");
    memcpy(outname, name, len - 3);
    outname[len - 3] = 0;
    gzFile in = gzopen(name, "rb");
    if (!in) return fail(name, "cannot open");
    FILE *out = fopen(outname, "wb");
    if (!out) return fail(outname, "cannot create");
    static unsigned char buf[BUFLEN];
    unsigned long crc = crc32(0L, Z_NULL, 0), total = 0;
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0) {
        crc = crc32(crc, buf, (unsigned)n);
        total += (unsigned long)n;
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) return fail(outname, "write error");
    }
    if (n < 0) {
        int err;
        return fail(name, gzerror(in, &err));
    }
    if (fclose(out) != 0) return fail(outname, "close failed");
    gzclose(in);
    if (unlink(name) != 0) return fail(name, "cannot remove");
    printf("%s: restored %lu bytes, crc32 %08lx\n", outname, total, crc);
    return 0;
}

int main(int argc, char **argv) {
    int uncompress = 0;
    char mode[8] = "wb6";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-d") == 0) uncompress = 1;
        else if (strcmp(a, "-f") == 0) strcpy(mode + 3, "f");
        else if (strcmp(a, "-h") == 0) strcpy(mode + 3, "h");
        else if (strcmp(a, "-R") == 0) strcpy(mode + 3, "R");
        else if (a[1] >= '1' && a[1] <= '9' && a[2] == 0) mode[2] = a[1];
        else {
            fprintf(stderr, "minigzip: unknown option %s\n", a);
            return 2;
        }
    }
    if (i == argc) {
        fprintf(stderr, "usage: minigzip [-d] [-1..-9] [-f|-h|-R] FILE...\n");
        return 2;
    }
    printf("zlib %s\n", zlibVersion());
    int status = 0;
    for (; i < argc; i++)
        status |= uncompress ? decompress_file(argv[i]) : compress_file(argv[i], mode);
    return status;
}
