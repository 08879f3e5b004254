/* blas.c - OpenBLAS kernels from the CPU's features when OpenBLAS does not know the CPU. */
#include "ringtrain/blas.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DETECTED_ENV "RINGTRAIN_BLAS_DETECTED" /* what OpenBLAS took, before the restart */

/* OpenBLAS's x86-64 kernel families by the vector width they need:
 * 3 AVX-512, 2 AVX2 and FMA, 1 AVX, 0 anything older (or not x86). */
static const char *const family_of_class[] = {NULL, "Sandybridge", "Haswell", "SkylakeX"};

static int class_of_kernels(const char *name) {
    static const char *const names[][4] = {
        {"SkylakeX", "Cooperlake", "SapphireRapids", NULL},
        {"Haswell", "Zen", "Excavator", NULL},
        {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller"},
    };
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4 && names[c][i]; i++)
            if (strcasecmp(name, names[c][i]) == 0) return 3 - c;
    return 0;
}

static int class_of_cpu(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init(); /* libgcc checks the OS saves the wider registers too */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
#endif
    return 0;
}

void rt_blas_pick_kernels(char **argv) {
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return;
    const char *have = openblas_get_corename();
    int want = class_of_cpu();
    if (!have || want <= class_of_kernels(have)) return;
    setenv("OPENBLAS_CORETYPE", family_of_class[want], 1);
    setenv(DETECTED_ENV, have, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "ringtrain: warning: cannot restart with OpenBLAS's %s kernels (%s); running on %s\n",
            family_of_class[want], strerror(errno), have);
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(DETECTED_ENV);
}

const char *rt_blas_kernels(const char **detected) {
    const char *name = openblas_get_corename();
    name = name ? name : "unknown";
    /* an OpenBLAS built for one target ignores OPENBLAS_CORETYPE: nothing was chosen then */
    const char *d = getenv(DETECTED_ENV);
    *detected = d && strcasecmp(d, name) != 0 ? d : NULL;
    return name;
}
