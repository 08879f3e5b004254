/* costmodel.c - the ring's α-β-γ model: fitting it, evaluating it, and its
 * file. */
#include "ringtrain/costmodel.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define FIT_FORMAT "ringtrain-allreduce-fit"
#define FIT_VERSION 1

/* ---- the model ---- */

static double segments(double bytes, int p, size_t seg) {
    double k = ceil(bytes / (double)p / (double)(seg ? seg : 1));
    return k < 1.0 ? 1.0 : k;
}

/* The three regressors of t - (p-1)/p n γ: for α, β and σ. */
static void regressors(int p, double bytes, size_t seg, double x[3]) {
    x[0] = 2.0 * (p - 1);
    x[1] = 2.0 * (p - 1) / p * bytes;
    x[2] = 2.0 * (p - 1) * (segments(bytes, p, seg) - 1.0);
}

double rt_cost_ring(const rt_link_fit *l, double gamma_s, size_t segment_bytes, int p, double bytes) {
    if (p <= 1 || bytes <= 0.0) return 0.0;
    double x[3];
    regressors(p, bytes, segment_bytes, x);
    return x[0] * l->alpha_s + x[1] * l->beta_s + x[2] * l->sigma_s + (double)(p - 1) / p * bytes * gamma_s;
}

/* A reduce-scatter or an all-gather alone: half the ring's steps; the
 * reduce-scatter also reduces. */
static double half_ring(const rt_link_fit *l, double gamma_s, size_t seg, int p, double bytes, bool reduce) {
    if (p <= 1 || bytes <= 0.0) return 0.0;
    double x[3];
    regressors(p, bytes, seg, x);
    double t = 0.5 * (x[0] * l->alpha_s + x[1] * l->beta_s + x[2] * l->sigma_s);
    return t + (reduce ? (double)(p - 1) / p * bytes * gamma_s : 0.0);
}

double rt_cost_hierarchical(const rt_cost_fit *f, int hosts, int ranks_per_host, double bytes) {
    int R = ranks_per_host, H = hosts;
    size_t s = f->segment_bytes;
    double t = half_ring(&f->intra, f->gamma_s, s, R, bytes, true);
    /* R inter-host rings at once on one link: each its chunk at R times β */
    rt_link_fit shared = f->inter;
    shared.beta_s *= R;
    t += rt_cost_ring(&shared, f->gamma_s, s, H, bytes / R);
    return t + half_ring(&f->intra, f->gamma_s, s, R, bytes, false);
}

double rt_cost_flat(const rt_cost_fit *f, int hosts, int ranks_per_host, double bytes) {
    int N = hosts * ranks_per_host;
    return rt_cost_ring(hosts > 1 ? &f->inter : &f->intra, f->gamma_s, f->segment_bytes, N, bytes);
}

double rt_cost_step(const double *bucket_s, const double *ready_frac, int nb, double fwd_s, double bwd_s,
                    double opt_s, bool overlap) {
    double compute = fwd_s + bwd_s, end = overlap ? fwd_s : compute; /* end: when the wire is free */
    for (int i = 0; i < nb; i++) {
        double ready = overlap ? fwd_s + bwd_s * ready_frac[i] : compute;
        end = (ready > end ? ready : end) + bucket_s[i];
    }
    return (end > compute ? end : compute) + opt_s;
}

/* ---- the fit ---- */

/* Solves the m x m system a x = b (m <= 3) by Gaussian elimination with
 * partial pivoting; false when it is singular. */
static bool solve(int m, double a[3][3], double b[3], double x[3]) {
    for (int c = 0; c < m; c++) {
        int piv = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(a[r][c]) > fabs(a[piv][c])) piv = r;
        if (fabs(a[piv][c]) < 1e-300) return false;
        for (int k = 0; k < m; k++) {
            double t = a[c][k];
            a[c][k] = a[piv][k];
            a[piv][k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (int r = c + 1; r < m; r++) {
            double q = a[r][c] / a[c][c];
            for (int k = c; k < m; k++) a[r][k] -= q * a[c][k];
            b[r] -= q * b[c];
        }
    }
    for (int c = m - 1; c >= 0; c--) {
        double s = b[c];
        for (int k = c + 1; k < m; k++) s -= a[c][k] * x[k];
        x[c] = s / a[c][c];
    }
    return true;
}

/* Weighted least squares over the coefficients in use[] (the others 0):
 * minimises sum ((model - t) / t)^2. Columns are scaled to unit size first,
 * since α and β differ by ten orders of magnitude. */
static bool fit_subset(const rt_cost_sample *s, int n, double gamma_s, const bool use[3], double coef[3]) {
    int idx[3], m = 0;
    for (int j = 0; j < 3; j++)
        if (use[j]) idx[m++] = j;
    double scale[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        double x[3];
        regressors(s[i].p, s[i].bytes, s[i].segment_bytes, x);
        for (int j = 0; j < m; j++) scale[j] = fmax(scale[j], fabs(x[idx[j]]) / s[i].secs);
    }
    double a[3][3] = {{0}}, b[3] = {0}, sol[3] = {0};
    for (int i = 0; i < n; i++) {
        double x[3], w = 1.0 / s[i].secs;
        regressors(s[i].p, s[i].bytes, s[i].segment_bytes, x);
        double y = (s[i].secs - (double)(s[i].p - 1) / s[i].p * s[i].bytes * gamma_s) * w;
        for (int j = 0; j < m; j++) {
            double xj = x[idx[j]] * w / (scale[j] ? scale[j] : 1.0);
            b[j] += xj * y;
            for (int k = 0; k < m; k++) a[j][k] += xj * x[idx[k]] * w / (scale[k] ? scale[k] : 1.0);
        }
    }
    if (!solve(m, a, b, sol)) return false;
    coef[0] = coef[1] = coef[2] = 0.0;
    for (int j = 0; j < m; j++) coef[idx[j]] = sol[j] / (scale[j] ? scale[j] : 1.0);
    return true;
}

int rt_cost_fit_link(const rt_cost_sample *s, int n, double gamma_s, rt_link_fit *out) {
    *out = (rt_link_fit){0};
    bool distinct = false;
    for (int i = 1; i < n; i++) distinct |= s[i].bytes != s[0].bytes;
    if (n < 2 || !distinct) return rt_err(RT_EBADINPUT, "fit: needs samples at 2 or more sizes, got %d", n);
    /* all three, then without σ, then β alone: the first with no negative coefficient */
    static const bool tries[3][3] = {{true, true, true}, {true, true, false}, {false, true, false}};
    double coef[3] = {0};
    int t = 0;
    for (; t < 3; t++)
        if (fit_subset(s, n, gamma_s, tries[t], coef) && coef[0] >= 0 && coef[1] > 0 && coef[2] >= 0)
            break;
    if (t == 3) return rt_err(RT_EBADINPUT, "fit: no non-negative fit of the %d samples", n);
    out->present = true;
    out->points = n;
    out->alpha_s = coef[0];
    out->beta_s = coef[1];
    out->sigma_s = coef[2];
    double sq = 0.0;
    for (int i = 0; i < n; i++) {
        out->ranks = s[i].p > out->ranks ? s[i].p : out->ranks;
        double e = rt_cost_ring(out, gamma_s, s[i].segment_bytes, s[i].p, s[i].bytes) / s[i].secs - 1.0;
        sq += e * e;
    }
    out->rms_rel = sqrt(sq / n);
    return RT_OK;
}

/* ---- the file ---- */

static cJSON *link_json(const rt_link_fit *l) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ranks", l->ranks);
    cJSON_AddNumberToObject(o, "points", l->points);
    cJSON_AddNumberToObject(o, "alpha_s", l->alpha_s);
    cJSON_AddNumberToObject(o, "beta_s_per_byte", l->beta_s);
    cJSON_AddNumberToObject(o, "sigma_s", l->sigma_s);
    cJSON_AddNumberToObject(o, "link_gbit", l->link_gbit);
    cJSON_AddNumberToObject(o, "rms_rel_err", l->rms_rel);
    return o;
}

int rt_cost_fit_write(const char *path, const rt_cost_fit *f) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", FIT_FORMAT);
    cJSON_AddNumberToObject(o, "version", FIT_VERSION);
    cJSON_AddStringToObject(o, "ringtrain_version", RT_VERSION);
    cJSON_AddNumberToObject(o, "gamma_s_per_byte", f->gamma_s);
    cJSON_AddNumberToObject(o, "segment_bytes", (double)f->segment_bytes);
    if (f->intra.present) cJSON_AddItemToObject(o, "intra", link_json(&f->intra));
    if (f->inter.present) cJSON_AddItemToObject(o, "inter", link_json(&f->inter));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    char tmp[RT_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    int rc = fp ? RT_OK : rt_err(RT_ERUNTIME, "%s: cannot create", tmp);
    if (!rc && (fprintf(fp, "%s\n", text) < 0 || fflush(fp) != 0)) rc = rt_err(RT_ERUNTIME, "%s: write failed", tmp);
    if (fp && fclose(fp) != 0 && !rc) rc = rt_err(RT_ERUNTIME, "%s: close failed", tmp);
    cJSON_free(text);
    if (!rc) rc = rt_commit_file(tmp, path);
    if (rc) remove(tmp);
    return rc;
}

/* o's number `key` into *v, finite and >= 0 (lo_open: > 0). */
static int read_num(const cJSON *o, const char *path, const char *where, const char *key, bool lo_open, double *v) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble) || n->valuedouble < 0 || (lo_open && n->valuedouble == 0))
        return rt_err(RT_EBADINPUT, "%s: %s%s: missing, or not a %s number", path, where, key,
                      lo_open ? "positive" : "non-negative");
    *v = n->valuedouble;
    return RT_OK;
}

static int read_link(const cJSON *root, const char *path, const char *name, rt_link_fit *l) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, name);
    *l = (rt_link_fit){0};
    if (!o) return RT_OK;
    if (!cJSON_IsObject(o)) return rt_err(RT_EBADINPUT, "%s: %s: not an object", path, name);
    char where[32];
    snprintf(where, sizeof where, "%s.", name);
    double ranks = 0, points = 0;
    int rc = read_num(o, path, where, "ranks", true, &ranks);
    if (!rc) rc = read_num(o, path, where, "points", true, &points);
    if (!rc) rc = read_num(o, path, where, "alpha_s", false, &l->alpha_s);
    if (!rc) rc = read_num(o, path, where, "beta_s_per_byte", true, &l->beta_s);
    if (!rc) rc = read_num(o, path, where, "sigma_s", false, &l->sigma_s);
    if (!rc) rc = read_num(o, path, where, "link_gbit", false, &l->link_gbit);
    if (!rc) rc = read_num(o, path, where, "rms_rel_err", false, &l->rms_rel);
    l->ranks = (int)ranks;
    l->points = (int)points;
    l->present = rc == RT_OK;
    return rc;
}

/* The whole of a small text file (a fit is a few hundred bytes; 1 MiB at most). */
static int read_text(const char *path, char **text, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_err(RT_EBADINPUT, "%s: cannot open", path);
    *text = rt_malloc((1u << 20) + 1);
    *len = fread(*text, 1, 1u << 20, fp);
    bool more = fgetc(fp) != EOF, bad = ferror(fp) != 0;
    fclose(fp);
    if (!more && !bad) return RT_OK;
    rt_free(*text);
    return rt_err(RT_EBADINPUT, "%s: %s", path, bad ? "read failed" : "larger than 1 MiB: not a fit file");
}

int rt_cost_fit_read(const char *path, rt_cost_fit *f) {
    *f = (rt_cost_fit){0};
    char *text = NULL;
    size_t len = 0;
    int rc = read_text(path, &text, &len);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    rt_free(text);
    if (!root) return rt_err(RT_EBADINPUT, "%s: not valid JSON", path);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    double seg = 0;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, FIT_FORMAT) != 0)
        rc = rt_err(RT_EBADINPUT, "%s: format: not a ringtrain all-reduce fit (\"%s\" expected)", path, FIT_FORMAT);
    else if (!cJSON_IsNumber(ver) || ver->valuedouble != FIT_VERSION)
        rc = rt_err(RT_EBADINPUT, "%s: version: %g is not one this build reads (%d)", path,
                    cJSON_IsNumber(ver) ? ver->valuedouble : -1.0, FIT_VERSION);
    if (!rc) rc = read_num(root, path, "", "gamma_s_per_byte", false, &f->gamma_s);
    if (!rc) rc = read_num(root, path, "", "segment_bytes", true, &seg);
    if (!rc) rc = read_link(root, path, "intra", &f->intra);
    if (!rc) rc = read_link(root, path, "inter", &f->inter);
    if (!rc && !f->intra.present && !f->inter.present)
        rc = rt_err(RT_EBADINPUT, "%s: intra: neither intra nor inter is in the file", path);
    f->segment_bytes = (size_t)seg;
    cJSON_Delete(root);
    return rc;
}
