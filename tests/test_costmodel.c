/* test_costmodel.c - the ring's cost model (costmodel.h) against values
 * computed here from its formulas:
 *   - a fit of samples made from known α, β, σ (two ring sizes, two segment
 *     sizes) gives them back within 1e-9, and its rms error is ~0;
 *   - samples whose best σ is negative fall back to a fit without σ;
 *   - rt_cost_ring, rt_cost_flat and rt_cost_hierarchical equal the
 *     formulas written out here; rt_cost_step with and without overlap
 *     equals a hand-worked schedule;
 *   - a fit file round-trips, and a damaged one, another format or version,
 *     and a missing or negative field each give one RT_EBADINPUT naming the
 *     file and the key.
 * Usage: test_costmodel DIR. Output: "ok ..."/"FAIL ..." and "N passed, M failed". */
#include "report.h"
#include "ringtrain/common.h"
#include "ringtrain/costmodel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* t = 2(p-1)[α + (k-1)σ] + 2(p-1)/p n β + (p-1)/p n γ, k = ceil(n / (p s)) */
static double formula(double a, double b, double sg, double g, int p, double n, double s) {
    double k = fmax(1.0, ceil(n / p / s));
    return 2.0 * (p - 1) * (a + (k - 1) * sg) + 2.0 * (p - 1) / p * n * b + (double)(p - 1) / p * n * g;
}

static void fits(void) {
    const double a = 40e-6, b = 8.0 / 400e6, sg = 3e-6, g = 4e-11;
    rt_cost_sample s[24];
    int n = 0;
    for (int p = 2; p <= 4; p += 2)
        for (double bytes = 1 << 18; bytes <= (1 << 26); bytes *= 4)
            for (int k = 0; k < 2; k++) {
                size_t seg = k ? 131072 : 524288;
                s[n++] = (rt_cost_sample){.p = p, .bytes = bytes, .segment_bytes = seg,
                                          .secs = formula(a, b, sg, g, p, bytes, (double)seg)};
            }
    rt_link_fit l;
    int rc = rt_cost_fit_link(s, n, g, &l);
    report(rc == 0 && rel(l.alpha_s, a) < 1e-9 && rel(l.beta_s, b) < 1e-9 && rel(l.sigma_s, sg) < 1e-9 &&
               l.rms_rel < 1e-12 && l.ranks == 4 && l.points == n,
           "fit: %d exact samples give back alpha %.6g (%.6g), beta %.6g (%.6g), sigma %.6g (%.6g), rms %.1e", n,
           l.alpha_s, a, l.beta_s, b, l.sigma_s, sg, l.rms_rel);
    /* more segments made cheaper than none: the free fit's σ < 0, so σ is dropped */
    for (int i = 0; i < n; i++) {
        double k = fmax(1.0, ceil(s[i].bytes / s[i].p / (double)s[i].segment_bytes));
        s[i].secs = formula(a, b, 0, g, s[i].p, s[i].bytes, (double)s[i].segment_bytes) * (1.0 - 0.002 * (k - 1) / 64);
    }
    rc = rt_cost_fit_link(s, n, g, &l);
    report(rc == 0 && l.sigma_s == 0.0 && l.alpha_s >= 0.0 && rel(l.beta_s, b) < 0.01,
           "fit: a negative sigma is dropped and the rest refitted (sigma %.3g, beta %.6g vs %.6g)", l.sigma_s,
           l.beta_s, b);
    rc = rt_cost_fit_link(s, 1, g, &l);
    report(rc == RT_EBADINPUT, "fit: one sample is refused: %s", rt_errmsg());
}

static void formulas(void) {
    rt_cost_fit f = {.gamma_s = 5e-11, .segment_bytes = 262144};
    f.intra = (rt_link_fit){.present = true, .alpha_s = 2e-6, .beta_s = 1e-10, .sigma_s = 1e-6};
    f.inter = (rt_link_fit){.present = true, .alpha_s = 30e-6, .beta_s = 2e-8, .sigma_s = 4e-6};
    double n = 16 << 20, s = 262144, g = f.gamma_s;
    double ring = rt_cost_ring(&f.inter, g, f.segment_bytes, 3, n);
    double flat = rt_cost_flat(&f, 2, 2, n), flat1 = rt_cost_flat(&f, 1, 4, n);
    /* hierarchical, H = 2, R = 2: half an intra ring with the reduction, the
     * inter ring on n/2 at 2β, half an intra ring without */
    double hr = 0.5 * (formula(2e-6, 1e-10, 1e-6, 0, 2, n, s)) + 0.5 * n * g +
                formula(30e-6, 4e-8, 4e-6, g, 2, n / 2, s) + 0.5 * formula(2e-6, 1e-10, 1e-6, 0, 2, n, s);
    double h = rt_cost_hierarchical(&f, 2, 2, n);
    report(rel(ring, formula(30e-6, 2e-8, 4e-6, g, 3, n, s)) < 1e-12 &&
               rel(flat, formula(30e-6, 2e-8, 4e-6, g, 4, n, s)) < 1e-12 &&
               rel(flat1, formula(2e-6, 1e-10, 1e-6, g, 4, n, s)) < 1e-12 && rel(h, hr) < 1e-12,
           "formulas: ring %.6f s, flat 2x2 %.6f s, flat 1x4 %.6f s, hierarchical 2x2 %.6f s (written out: %.6f)",
           ring, flat, flat1, h, hr);
    /* two buckets of 3 and 2 s, final at 50% and 100% of a 4 s backward after a 1 s forward, update 0.5 s */
    double b[2] = {3.0, 2.0}, at[2] = {0.5, 1.0};
    double serial = rt_cost_step(b, at, 2, 1.0, 4.0, 0.5, false), over = rt_cost_step(b, at, 2, 1.0, 4.0, 0.5, true);
    report(serial == 10.5 && over == 8.5,
           "step: serial 1 + 4 + 3 + 2 + 0.5 = %.2f s; overlapped: bucket 0 from 3 to 6, bucket 1 from 6 to 8, "
           "+ 0.5 = %.2f s", serial, over);
}

static int write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    fputs(text, fp);
    return fclose(fp);
}

static void files(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/test_costmodel_fit.json", dir);
    rt_cost_fit f = {.gamma_s = 4.5e-11, .segment_bytes = 524288}, g;
    f.inter = (rt_link_fit){.present = true, .ranks = 4, .points = 10, .alpha_s = 5e-5, .beta_s = 2.1e-8,
                            .sigma_s = 2e-6, .link_gbit = 0.4, .rms_rel = 0.03};
    int rc = rt_cost_fit_write(path, &f);
    rc |= rt_cost_fit_read(path, &g);
    report(rc == 0 && !g.intra.present && g.inter.present && g.inter.alpha_s == f.inter.alpha_s &&
               g.inter.beta_s == f.inter.beta_s && g.inter.link_gbit == 0.4 && g.gamma_s == f.gamma_s &&
               g.segment_bytes == 524288 && g.inter.ranks == 4,
           "file: a fit round-trips (inter only)");
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"{\"format\": \"ringtrain-allreduce-fit\", \"version\": 1, \"gamma", "not valid JSON"},
        {"{\"format\": \"other\", \"version\": 1}", "format: not a ringtrain all-reduce fit"},
        {"{\"format\": \"ringtrain-allreduce-fit\", \"version\": 2}", "version: 2 is not one this build reads"},
        {"{\"format\": \"ringtrain-allreduce-fit\", \"version\": 1, \"segment_bytes\": 4}", "gamma_s_per_byte: missing"},
        {"{\"format\": \"ringtrain-allreduce-fit\", \"version\": 1, \"gamma_s_per_byte\": 1e-11, \"segment_bytes\": 4,"
         " \"inter\": {\"ranks\": 2, \"points\": 4, \"alpha_s\": -1}}", "inter.alpha_s: missing, or not a non-negative"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        rc = rt_cost_fit_read(path, &g);
        report(rc == RT_EBADINPUT && strstr(rt_errmsg(), bad[i].want) && strstr(rt_errmsg(), path),
               "file: bad fit %zu refused: %s", i + 1, rt_errmsg());
    }
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_costmodel DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    fits();
    formulas();
    files(argv[1]);
    return report_finish();
}
