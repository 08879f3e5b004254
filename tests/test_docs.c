/* test_docs.c - the README documents every config key the parser accepts
 * (as `key` in its reference table) and has a section for every verb.
 * usage: test_docs README.md */
#include "ringtrain/common.h"
#include "ringtrain/config.h"

#include <stdio.h>
#include <string.h>

static char *readme;
static int passed, failed;

static void check_key(const char *key, void *ctx) {
    (void)ctx;
    char quoted[128];
    snprintf(quoted, sizeof quoted, "`%s`", key);
    /* a row may list several keys: "`a`, `b`" */
    bool ok = strstr(readme, quoted) != NULL;
    printf("%s config key %s\n", ok ? "ok  " : "FAIL", key);
    ok ? passed++ : failed++;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_docs README.md\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    readme = rt_malloc((size_t)n + 1);
    readme[fread(readme, 1, (size_t)n, f)] = '\0';
    fclose(f);
    rt_config_each_key(check_key, NULL);
    const char *verbs[] = {"train", "eval", "prep", "inspect", "report", "plot", "bench"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        char h[64];
        snprintf(h, sizeof h, "### `ringtrain %s", verbs[i]);
        bool ok = strstr(readme, h) != NULL;
        printf("%s README section for verb %s\n", ok ? "ok  " : "FAIL", verbs[i]);
        ok ? passed++ : failed++;
    }
    /* the check can fail: a key that does not exist is not found */
    bool neg = strstr(readme, "`optim.no_such_key`") == NULL;
    printf("%s negative control: an undocumented key is reported missing\n", neg ? "ok  " : "FAIL");
    neg ? passed++ : failed++;
    printf("%d passed, %d failed\n", passed, failed);
    rt_free(readme);
    return failed ? 1 : 0;
}
