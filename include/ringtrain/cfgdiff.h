/** @file cfgdiff.h
 * What changed between the config a checkpoint was trained with
 * and the config a resume brings (DESIGN.md: a resumed run is bitwise
 * identical to one that never stopped, which holds only for the same config).
 *
 * Both configs are compared as resolved trees (defaults written in), leaf by
 * leaf ("optim.lr", "model.layers[2].out"). Some changes cannot alter the
 * trajectory, or are ordinary use, and are allowed: train.log_every,
 * train.eval_every, train.checkpoint_every, train.keep_checkpoints,
 * dist.timeout_s, data.memory_budget_mb, init.from (unused by a resume),
 * train.steps and train.epochs (running
 * for longer), and data.train / data.test naming the same file. Every other
 * change needs --allow-config-change. */
#ifndef RINGTRAIN_CFGDIFF_H
#define RINGTRAIN_CFGDIFF_H

#include "ringtrain/api.h"
#include "ringtrain/config.h"

#include <stdbool.h>

struct cJSON;

#define RT_CFG_MAX_CHANGES 32

typedef struct rt_cfg_change {
    char key[128];
    char old[80], now[80]; /**< the values as JSON ("(none)" for a key one side lacks), cut to fit */
    bool allowed;          /**< without --allow-config-change */
} rt_cfg_change;

/** The changes from stored to now, at most max (the rest are counted only);
 * returns how many there are. */
RT_API int rt_config_diff(const rt_config *stored, const rt_config *now, rt_cfg_change *out,
                          int max);
/** "optim.lr 0.003 -> 0.5, train.seed 0 -> 1" of the changes with allowed ==
 * which, into buf. */
RT_API void rt_config_changes_text(const rt_cfg_change *c, int n, bool which, char *buf,
                                   size_t len);
/** The resume check: now against the config stored in the checkpoint at path
 * (parsed by this build, so defaults added since compare equal). A change
 * not allowed is RT_EBADINPUT "<path>: the config differs ...: key old -> new,
 * ...", unless allow. The changes go to out (*n of them, at most
 * RT_CFG_MAX_CHANGES); with say, one line on stdout lists them. */
RT_API int rt_config_check_resume(const rt_config *now, const char *path, bool allow, bool say,
                                  rt_cfg_change *out, int *n);
/** The changes as a JSON array of {"key", "old", "new", "allowed"}. */
RT_API struct cJSON *rt_config_changes_json(const rt_cfg_change *c, int n);

/** The names these two had before cfgdiff's functions took one prefix, kept
 * as second exported names of the same functions (api.h). */
/** @deprecated The old name of rt_config_changes_text. */
RT_API_ALIAS(rt_cfg_changes_text, rt_config_changes_text, "renamed rt_config_changes_text");
/** @deprecated The old name of rt_config_changes_json. */
RT_API_ALIAS(rt_cfg_changes_json, rt_config_changes_json, "renamed rt_config_changes_json");

#endif
