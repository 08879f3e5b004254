/* bench_ckpt.c - checkpoint write time against a raw write of the same bytes.
 *
 * For a model of P parameters a checkpoint holds 3P floats (parameters and
 * AdamW's m and v). The raw baseline writes those bytes with write() and
 * fsync() to a file in the same directory. Prints the times and the ratio
 * (goal <= 1.5x), best of 3.   usage: bench_ckpt DIR PARAMS...
 */
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double raw_write(const char *path, const float *a, size_t n, int copies) {
    double t0 = rt_now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    for (int c = 0; c < copies; c++) {
        const char *p = (const char *)a;
        size_t left = n * sizeof(float);
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w <= 0) {
                close(fd);
                return -1;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    fsync(fd);
    close(fd);
    return rt_now() - t0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_ckpt DIR PARAMS...\n");
        return 2;
    }
    printf("%12s %12s %12s %8s\n", "params", "ckpt s", "raw s", "ratio");
    for (int a = 2; a < argc; a++) {
        long long total = atoll(argv[a]);
        /* a few layers of realistic shapes summing to about `total` */
        rt_params p;
        rt_params_init(&p, 8);
        int rows = 1024, cols = (int)(total / 4 / rows);
        for (int l = 0; l < 4; l++) {
            char name[32];
            int shape[2] = {rows, cols};
            snprintf(name, sizeof name, "layer%d.weight", l);
            rt_params_add(&p, name, 2, shape);
        }
        rt_params_finalize(&p);
        for (size_t i = 0; i < p.total; i++) p.data[i] = (float)(i % 1000) * 1e-3f;
        float *m = rt_calloc(p.total, sizeof(float)), *v = rt_calloc(p.total, sizeof(float));
        char ck[1024], raw[1024];
        snprintf(ck, sizeof ck, "%s/bench_ckpt.h5", argv[1]);
        snprintf(raw, sizeof raw, "%s/bench_raw.bin", argv[1]);
        rt_ckpt_meta meta = {.step = 1, .epoch = 0, .world_size = 1, .optim_t = 1,
                             .optim_type = "adamw", .config_json = "{}"};
        double best_ck = 1e30, best_raw = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = rt_now();
            if (rt_ckpt_save(ck, &p, m, v, &meta)) {
                fprintf(stderr, "bench_ckpt: %s\n", rt_errmsg());
                return 1;
            }
            double t_ck = rt_now() - t0, t_raw = raw_write(raw, p.data, p.total, 3);
            if (t_ck < best_ck) best_ck = t_ck;
            if (t_raw < best_raw) best_raw = t_raw;
        }
        printf("%12zu %12.4f %12.4f %7.2fx\n", p.total, best_ck, best_raw, best_ck / best_raw);
        unlink(ck);
        unlink(raw);
        rt_free(m);
        rt_free(v);
        rt_params_free(&p);
    }
    return 0;
}
