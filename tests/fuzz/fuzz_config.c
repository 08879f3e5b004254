/* fuzz_config.c - libFuzzer harness: any bytes as a config file, with and
 * without --set overrides. Parsing must never crash, leak or read out of
 * bounds; it either accepts the config or reports one error. */
#include "ringtrain/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* the last line, if it looks like one, doubles as a --set override */
    const char *sets[1];
    int nset = 0;
    char *nl = strrchr(text, '\n');
    if (nl && strchr(nl + 1, '=')) {
        *nl = '\0';
        sets[nset++] = nl + 1;
    }
    rt_config *c = NULL;
    if (rt_config_parse(text, "fuzz.json", sets, nset, &c) == 0) {
        char *json = rt_config_to_json(c);
        free(json);
        rt_config_free(c);
    }
    free(text);
    return 0;
}
