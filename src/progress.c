/* progress.c - live bar on a terminal, plain lines elsewhere. */
#include "ringtrain/progress.h"

#include "ringtrain/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct rt_progress {
    FILE *out;
    bool enabled, bar;
    bool drawn;            /* a bar is on the current line */
    int64_t first, total, per_epoch, batch, log_every;
    double start, last_draw, last_t;
    double ema_loss, ema_w;  /* bias-corrected exponential average of the loss */
    double ema_sps;
    int64_t last_step;
};

/* A terminal someone looks at: a tty with a size. Open MPI gives its ranks a
 * pseudo-terminal of 0x0 even when mpirun's own output goes to a file, so a
 * tty alone would put control characters into logs. */
static bool is_terminal(FILE *f) {
    struct winsize ws;
    int fd = fileno(f);
    return isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0;
}

rt_progress *rt_progress_create(FILE *out, bool enabled, int64_t first_step, int64_t total_steps,
                                int64_t steps_per_epoch, int64_t batch, int64_t log_every) {
    rt_progress *p = rt_calloc(1, sizeof *p);
    p->out = out;
    p->enabled = enabled;
    const char *mode = getenv("RINGTRAIN_PROGRESS");
    p->bar = mode ? strcmp(mode, "bar") == 0 : is_terminal(out);
    p->first = p->last_step = first_step;
    p->total = total_steps;
    p->per_epoch = steps_per_epoch > 0 ? steps_per_epoch : 1;
    p->batch = batch;
    p->log_every = log_every > 0 ? log_every : 1;
    p->start = p->last_t = rt_now();
    return p;
}

void rt_progress_destroy(rt_progress *p) { rt_free(p); }

static void fmt_eta(double s, char *buf, size_t len) {
    if (!isfinite(s) || s < 0) s = 0;
    long v = (long)(s + 0.5);
    if (v >= 3600)
        snprintf(buf, len, "%ldh%02ldm", v / 3600, (v / 60) % 60);
    else if (v >= 60)
        snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
    else
        snprintf(buf, len, "%lds", v);
}

static void draw(rt_progress *p, int64_t step, double lr) {
    double frac = p->total ? (double)step / (double)p->total : 1.0;
    int width = 24, fill = (int)(frac * width);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double elapsed = rt_now() - p->start;
    double eta = step > p->first ? elapsed / (double)(step - p->first) * (double)(p->total - step) : 0;
    char e[32];
    fmt_eta(eta, e, sizeof e);
    fprintf(p->out, "\r\033[Kepoch %lld [%s] %lld/%lld loss %.4f lr %.2e %.0f samples/s eta %s",
            (long long)((step - 1) / p->per_epoch), bar, (long long)step, (long long)p->total,
            p->ema_loss / p->ema_w, lr, p->ema_sps, e);
    fflush(p->out);
    p->drawn = true;
}

void rt_progress_step(rt_progress *p, int64_t step, double loss, double lr) {
    if (!p->enabled) return;
    double now = rt_now(), dt = now - p->last_t;
    double sps = dt > 0 ? (double)((step - p->last_step) * p->batch) / dt : 0;
    p->ema_sps = p->ema_sps > 0 ? 0.9 * p->ema_sps + 0.1 * sps : sps;
    p->ema_loss = 0.9 * p->ema_loss + 0.1 * loss;
    p->ema_w = 0.9 * p->ema_w + 0.1;
    p->last_t = now;
    p->last_step = step;
    if (p->bar) {
        if (now - p->last_draw >= 0.1 || step == p->total) {
            draw(p, step, lr);
            p->last_draw = now;
        }
        return;
    }
    if (step % p->log_every != 0 && step != p->total) return;
    double elapsed = now - p->start;
    double eta = step > p->first ? elapsed / (double)(step - p->first) * (double)(p->total - step) : 0;
    char e[32];
    fmt_eta(eta, e, sizeof e);
    fprintf(p->out, "step %lld/%lld epoch %lld loss %.4f (avg %.4f) lr %.2e %.0f samples/s eta %s\n",
            (long long)step, (long long)p->total, (long long)((step - 1) / p->per_epoch), loss,
            p->ema_loss / p->ema_w, lr, p->ema_sps, e);
    fflush(p->out);
}

void rt_progress_print(rt_progress *p, const char *fmt, ...) {
    if (!p->enabled) return;
    if (p->drawn) {
        fputs("\r\033[K", p->out);
        p->drawn = false;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

void rt_progress_finish(rt_progress *p) {
    if (!p->enabled || !p->drawn) return;
    fputc('\n', p->out);
    fflush(p->out);
    p->drawn = false;
}
