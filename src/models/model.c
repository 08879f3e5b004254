/* model.c - the table of model families, the config's model section, and
 * dispatch. Nothing here names a family: each is one row. */
#include "family.h"
#include "ringtrain/common.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the families ---- */

static const rt_family *const families[] = {
    &rt_family_sequential,
    &rt_family_nice,
    &rt_family_rectflow,
};
#define NFAMILIES ((int)(sizeof families / sizeof families[0]))

/* "a|b|c" (sep "|") or "a, b or c" (sep ", "), of the families that sample
 * when only_samplers. */
static void family_list(char *buf, size_t len, const char *sep, bool only_samplers) {
    size_t n = 0;
    int total = 0, k = 0;
    for (int i = 0; i < NFAMILIES; i++) total += !only_samplers || families[i]->sample;
    buf[0] = '\0';
    for (int i = 0; i < NFAMILIES && n < len; i++) {
        if (only_samplers && !families[i]->sample) continue;
        const char *s = k == 0 ? "" : strcmp(sep, "|") == 0 ? "|" : k + 1 == total ? " or " : ", ";
        n += (size_t)snprintf(buf + n, len - n, "%s%s", s, families[i]->name);
        k++;
    }
}

/* ---- metrics per task ---- */

typedef struct task_def {
    int n;
    struct {
        const char *name, *fmt;
    } metric[RT_MAX_METRICS];
    void (*values)(const rt_model *m, const rt_batch_stats *st, double *out);
} task_def;

static double mean_loss(const rt_batch_stats *st) {
    return st->count > 0 ? st->loss_sum / (double)st->count : NAN;
}

static void classify_values(const rt_model *m, const rt_batch_stats *st, double *out) {
    (void)m;
    out[0] = mean_loss(st);
    out[1] = st->count > 0 ? (double)st->correct / (double)st->count : NAN;
}

/* bits per dimension of 8-bit data dequantised to [0, 1], from the mean NLL
 * in nats per sample: (nll / D + ln 256) / ln 2 */
static void density_values(const rt_model *m, const rt_batch_stats *st, double *out) {
    out[0] = mean_loss(st);
    out[1] = (out[0] / (double)m->input_size + log(256.0)) / log(2.0);
}

static void flow_values(const rt_model *m, const rt_batch_stats *st, double *out) {
    (void)m;
    out[0] = mean_loss(st);
}

static void keypoint_values(const rt_model *m, const rt_batch_stats *st, double *out) {
    (void)m;
    double n = st->kp_points > 0 ? (double)st->kp_points : NAN;
    out[0] = mean_loss(st);
    out[1] = st->kp_err / n;
    out[2] = (double)st->kp_within2 / n;
    out[3] = (double)st->kp_within4 / n;
}

static const task_def tasks[RT_TASK_COUNT] = {
    [RT_TASK_CLASSIFY] = {2, {{"test_loss", "%.4f"}, {"test_acc", "%.4f"}}, classify_values},
    [RT_TASK_DENSITY] = {2, {{"test_nll", "%.2f nats"}, {"test_bpd", "%.4f"}}, density_values},
    [RT_TASK_FLOW] = {1, {{"test_loss", "(flow matching) %.5f"}}, flow_values},
    [RT_TASK_KEYPOINT] = {4,
                          {{"test_loss", "%.4f"}, {"kp_err_px", "%.3f"}, {"pck_2px", "%.4f"}, {"pck_4px", "%.4f"}},
                          keypoint_values},
};

int rt_model_metrics(const rt_model *m, const rt_batch_stats *st, rt_metric *out) {
    const task_def *t = &tasks[m->task];
    double v[RT_MAX_METRICS];
    t->values(m, st, v);
    for (int i = 0; i < t->n; i++) out[i] = (rt_metric){t->metric[i].name, t->metric[i].fmt, v[i]};
    return t->n;
}

int rt_model_info(const rt_model *m, rt_metric *out) {
    return m->family->info ? m->family->info(m, out) : 0;
}

/* ---- the config's model section ---- */

/* True when key is one of the family's rows, or of one of its parts' */
static bool family_knows(const rt_family *fam, const char *key) {
    if (rt_keys_find(fam->keys, fam->nkeys, key)) return true;
    for (int i = 0; i < fam->nparts; i++)
        if (rt_keys_find(*fam->parts[i].rows, *fam->parts[i].n, key)) return true;
    return false;
}

/* fn("model.<path>") for rows[0..n) not listed already (a key several
 * families or parts share is listed once) */
static void each_row(const rt_key *rows, int n, char (*seen)[64], int *nseen,
                     void (*fn)(const char *key, void *ctx), void *ctx) {
    for (int i = 0; i < n; i++) {
        bool dup = false;
        for (int k = 0; k < *nseen && !dup; k++) dup = strcmp(seen[k], rows[i].path) == 0;
        if (dup || *nseen == 256) continue;
        snprintf(seen[(*nseen)++], 64, "%s", rows[i].path);
        char full[128];
        snprintf(full, sizeof full, "model.%s", rows[i].path);
        fn(full, ctx);
    }
}

void rt_model_cfg_each_key(void (*fn)(const char *key, void *ctx), void *ctx) {
    static char seen[256][64];
    int nseen = 0;
    fn("model.type", ctx);
    fn("model.input", ctx);
    for (int f = 0; f < NFAMILIES; f++) {
        each_row(families[f]->keys, families[f]->nkeys, seen, &nseen, fn, ctx);
        for (int i = 0; i < families[f]->nparts; i++)
            each_row(*families[f]->parts[i].rows, *families[f]->parts[i].n, seen, &nseen, fn, ctx);
    }
}

/* Every key of the model object is type, input, or a key of its family; a
 * key of another family is named as such. */
static int check_model_keys(const cJSON *model, const rt_family *fam, const char *origin) {
    const cJSON *it;
    cJSON_ArrayForEach(it, model) {
        const char *k = it->string;
        if (!strcmp(k, "type") || !strcmp(k, "input") || family_knows(fam, k)) continue;
        for (int f = 0; f < NFAMILIES; f++)
            if (family_knows(families[f], k))
                return rt_err(RT_EBADINPUT, "%s: model.%s: not a key of a %s model", origin, k, fam->name);
        return rt_err(RT_EBADINPUT, "%s: model.%s: unknown key", origin, k);
    }
    return RT_OK;
}

static int parse_type(cJSON *model, rt_config *c, const char *origin) {
    char choices[256];
    family_list(choices, sizeof choices, "|", false);
    typedef struct { int type; } type_field;
    const rt_key row = KENUM("type", type_field, type, "\"sequential\"", choices);
    type_field t = {0};
    rt_key_scope scope = {.origin = origin, .where = "model", .insert_defaults = true};
    int rc = rt_keys_read(&row, 1, model, &t, &scope);
    if (!rc) c->model.family = families[t.type];
    return rc;
}

static int parse_input(cJSON *model, rt_config *c, const char *origin) {
    cJSON *in = cJSON_GetObjectItemCaseSensitive(model, "input");
    if (!in) return rt_err(RT_EBADINPUT, "%s: model.input: missing (e.g. [784])", origin);
    int n = cJSON_IsArray(in) ? cJSON_GetArraySize(in) : 0;
    if (n < 1 || n > RT_MAX_DIMS - 1)
        return rt_err(RT_EBADINPUT, "%s: model.input: expected an array of 1 to %d sizes", origin,
                      RT_MAX_DIMS - 1);
    c->model.input_ndim = n;
    int64_t d = 1;
    for (int i = 0; i < n; i++) {
        cJSON *v = cJSON_GetArrayItem(in, i);
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
            v->valuedouble > (1 << 24))
            return rt_err(RT_EBADINPUT, "%s: model.input[%d]: expected a positive integer", origin, i);
        c->model.input[i] = (int)v->valuedouble;
        d *= c->model.input[i]; /* each size <= 2^24 and d <= 2^24 before: no overflow */
        if (d > (1 << 24))
            return rt_err(RT_EBADINPUT, "%s: model.input: more than %d elements per sample", origin,
                          1 << 24);
    }
    return RT_OK;
}

int rt_family_check_size(const rt_params *p, const char *origin, const char *what) {
    double total = 0.0;
    for (int i = 0; i < p->count; i++) total += (double)p->items[i].t.numel;
    if (total > RT_MAX_PARAMS)
        return rt_err(RT_EBADINPUT, "%s: %s: the model would have over %.0f parameters", origin, what,
                      RT_MAX_PARAMS);
    return RT_OK;
}

int rt_family_read_part(cJSON *model, const rt_key_table *parts, int nparts, int chosen, const char *kind,
                        void *arch, const char *origin) {
    const rt_key_table *own = chosen >= 0 ? &parts[chosen] : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, model) {
        if (own && rt_keys_find(*own->rows, *own->n, it->string)) continue;
        for (int i = 0; i < nparts; i++)
            if (rt_keys_find(*parts[i].rows, *parts[i].n, it->string))
                return rt_err(RT_EBADINPUT, "%s: model.%s: a key of the %s %s; this model's %s is %s", origin,
                              it->string, parts[i].owner, kind, kind, own ? own->owner : "none");
    }
    if (!own) return RT_OK;
    rt_key_scope scope = {.origin = origin, .where = "model", .insert_defaults = true};
    return rt_keys_read(*own->rows, *own->n, model, arch, &scope);
}

static void model_from_config(rt_model *m, const rt_config *c) {
    m->family = c->model.family;
    m->task = m->family->task;
    m->input_ndim = c->model.input_ndim;
    memcpy(m->input, c->model.input, sizeof m->input);
    m->input_size = 1;
    for (int i = 0; i < m->input_ndim; i++) m->input_size *= m->input[i];
    m->seed = c->train.seed;
}

/* The size bound, from the code that builds the model: its parameters are
 * declared, counted and dropped, never allocated. */
static int check_size(const rt_config *c, const char *origin) {
    rt_model m = {0};
    model_from_config(&m, c);
    m.family->build(&m, c);
    int rc = rt_family_check_size(&m.params, origin, m.family->size_keys(c));
    m.family->destroy(&m);
    rt_params_free(&m.params);
    return rc;
}

int rt_model_cfg_parse(cJSON *model, rt_config *c, const char *origin) {
    if (!model) return rt_err(RT_EBADINPUT, "%s: model: missing section", origin);
    if (!cJSON_IsObject(model))
        return rt_err(RT_EBADINPUT, "%s: model: expected an object, got %s", origin, rt_keys_type_name(model));
    int rc = parse_type(model, c, origin);
    if (rc) return rc;
    const rt_family *fam = c->model.family;
    if ((rc = check_model_keys(model, fam, origin))) return rc;
    c->model.arch = rt_calloc(1, fam->arch_size);
    rt_key_scope scope = {.origin = origin, .where = "model", .insert_defaults = true};
    if ((rc = rt_keys_read(fam->keys, fam->nkeys, model, c->model.arch, &scope))) return rc;
    if ((rc = parse_input(model, c, origin))) return rc;
    if (fam->check && (rc = fam->check(model, c, origin))) return rc;
    return check_size(c, origin);
}

void rt_model_cfg_free(rt_model_cfg *mc) {
    if (mc->arch && mc->family && mc->family->free_arch) mc->family->free_arch(mc->arch);
    rt_free(mc->arch);
    mc->arch = NULL;
}

int rt_model_cfg_require_sampler(const rt_model_cfg *mc, const char *where) {
    if (mc->family->sample) return RT_OK;
    char list[256];
    family_list(list, sizeof list, ", ", true);
    return rt_err(RT_EBADINPUT, "%s: model.type: sampling needs a %s model, this file holds a %s model",
                  where, list, mc->family->name);
}

bool rt_model_cfg_needs_classes(const rt_config *c) {
    const rt_family *fam = c->model.family;
    int64_t *k = fam->class_count ? fam->class_count((rt_config *)c) : NULL;
    return k && *k == 0;
}

int rt_model_cfg_set_classes(rt_config *c, int n, const char *where) {
    int64_t *k = c->model.family->class_count ? c->model.family->class_count(c) : NULL;
    RT_CHECK(k, "rt_model_cfg_set_classes: a %s model has no classes", c->model.family->name);
    if (n < 1)
        return rt_err(RT_EBADINPUT,
                      "%s: num_classes: a class-conditional model takes its class count from this attribute of "
                      "the training data, and it is missing; set model.num_classes",
                      where);
    *k = n;
    cJSON *model = cJSON_GetObjectItemCaseSensitive(c->resolved, "model");
    cJSON_DeleteItemFromObjectCaseSensitive(model, "num_classes");
    cJSON_AddNumberToObject(model, "num_classes", n);
    return RT_OK;
}

/* ---- building and running ---- */

rt_model *rt_model_create(const rt_config *cfg) {
    rt_model *m = rt_calloc(1, sizeof *m);
    model_from_config(m, cfg);
    m->family->build(m, cfg);
    rt_params_finalize(&m->params);
    rt_rng rng;
    rt_rng_seed(&rng, cfg->train.seed, 0x696e6974 /* "init" */);
    m->family->init(m, &rng);
    return m;
}

void rt_model_destroy(rt_model *m) {
    if (!m) return;
    m->family->destroy(m);
    rt_params_free(&m->params);
    rt_free(m);
}

rt_params *rt_model_params(rt_model *m) { return &m->params; }
rt_task rt_model_task(const rt_model *m) { return m->task; }

int rt_model_keypoints(const rt_model *m, int *w, int *h) {
    if (w) *w = m->input_ndim >= 2 ? m->input[m->input_ndim - 1] : 0;
    if (h) *h = m->input_ndim >= 2 ? m->input[m->input_ndim - 2] : 0;
    return m->keypoints;
}
int64_t rt_model_input_size(const rt_model *m) { return m->input_size; }
int rt_model_num_classes(const rt_model *m) { return m->classes; }

rt_tensor *rt_model_features(rt_model *m, rt_graph *g, rt_tensor *x) {
    return m->family->features ? m->family->features(m, g, x) : NULL;
}

rt_tensor *rt_model_forward(rt_model *m, rt_graph *g, rt_tensor *x) {
    RT_CHECK(m->family->forward, "rt_model_forward: a %s model has no plain forward", m->family->name);
    return m->family->forward(m, g, x);
}

rt_tensor *rt_model_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                         rt_batch_stats *st) {
    RT_CHECK(b->x->ndim == 2 && b->x->shape[1] == m->input_size, "model: batch of %d-element rows",
             b->x->ndim == 2 ? b->x->shape[1] : -1);
    return m->family->loss(m, g, b, scale, st);
}

bool rt_model_needs_data_init(const rt_model *m) {
    return m->family->needs_data_init && m->family->needs_data_init(m);
}

int rt_model_data_init(rt_model *m, rt_graph *g, const rt_model_batch *b) {
    if (!rt_model_needs_data_init(m)) return RT_OK;
    RT_CHECK(b->x->ndim == 2 && b->x->shape[1] == m->input_size, "model: batch of %d-element rows",
             b->x->ndim == 2 ? b->x->shape[1] : -1);
    bool was = rt_graph_grad_enabled(g);
    rt_graph_set_grad(g, false);
    m->family->data_init(m, g, b);
    rt_graph_set_grad(g, was);
    return RT_OK;
}

int rt_model_sample_opts(rt_model *m, rt_graph *g, const rt_sample_opts *o, float *out) {
    if (!m->family->sample) {
        char list[256];
        family_list(list, sizeof list, " or ", true);
        return rt_err(RT_EBADINPUT, "sampling needs a generative model (%s)", list);
    }
    for (int64_t i = 0; o->labels && i < o->n; i++)
        RT_CHECK(o->labels[i] >= 0 && o->labels[i] < m->classes, "sample: label %d of a %d-class model",
                 o->labels[i], m->classes);
    bool was = rt_graph_grad_enabled(g);
    rt_graph_set_grad(g, false);
    m->family->sample(m, g, o, out);
    rt_graph_set_grad(g, was);
    return RT_OK;
}

int rt_model_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, int steps, float *out) {
    rt_sample_opts o = {.n = n, .seed = seed, .steps = steps, .temperature = 1.0, .cfg = 1.0};
    return rt_model_sample_opts(m, g, &o, out);
}

int rt_model_velocity(rt_model *m, rt_graph *g, rt_tensor *xt, const float *t, const int32_t *labels,
                      rt_tensor **v) {
    if (!m->family->velocity) return rt_err(RT_EBADINPUT, "a %s model has no velocity field", m->family->name);
    RT_CHECK(xt->ndim == 2 && xt->shape[1] == m->input_size, "velocity: rows of %d elements",
             xt->ndim == 2 ? xt->shape[1] : -1);
    *v = m->family->velocity(m, g, xt, t, labels);
    return RT_OK;
}
