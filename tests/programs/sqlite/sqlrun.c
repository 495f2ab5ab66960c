/* A minimal sqlite3 shell: runs every statement of SCRIPT against the database
 * file DB and prints each result row as `a|b|c` (NULL as an empty field, like
 * the sqlite3 shell's list mode). An error is printed on stdout and counted,
 * and the script goes on, so a difference shows in the compared output rather
 * than only in the exit code, which is 1 when any statement failed.
 *
 * usage: sqlrun DB SCRIPT      (SCRIPT `-` reads the script from stdin) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

static char *read_file(const char *path) {
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) buf = realloc(buf, cap *= 2);
    }
    if (!from_stdin) fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DB SCRIPT\n", argv[0]);
        return 2;
    }
    char *script = read_file(argv[2]);
    if (!script) return 2;
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], sqlite3_errmsg(db));
        return 2;
    }
    int errors = 0;
    const char *sql = script;
    while (*sql) {
        sqlite3_stmt *stmt;
        const char *rest;
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, &rest) != SQLITE_OK) {
            printf("error: %s\n", sqlite3_errmsg(db));
            errors++;
            /* The statement's extent is unknown: skip to the next `;`. */
            while (*sql && *sql != ';') sql++;
            if (*sql) sql++;
            continue;
        }
        sql = rest;
        if (!stmt) continue; /* whitespace or a comment */
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            int n = sqlite3_column_count(stmt);
            for (int i = 0; i < n; i++) {
                const unsigned char *text = sqlite3_column_text(stmt, i);
                printf("%s%s", i ? "|" : "", text ? (const char *)text : "");
            }
            putchar('\n');
        }
        if (rc != SQLITE_DONE) {
            printf("error: %s\n", sqlite3_errmsg(db));
            errors++;
        }
        sqlite3_finalize(stmt);
    }
    if (sqlite3_close(db) != SQLITE_OK) {
        printf("error: close: %s\n", sqlite3_errmsg(db));
        errors++;
    }
    free(script);
    return errors ? 1 : 0;
}
