/** @file dp.h
 * The data-parallel part of a training step, behind one interface:
 * the gradients summed across ranks by the ring in buckets (gradsync.h),
 * alongside backward or after it; the step's small sums; the optimizer's
 * update (each rank's share of it when dist.shard_optimizer is on, then the
 * parameters gathered); and the optimizer state gathered before a
 * checkpoint. The trainer calls, in each step:
 *
 *     rt_dp_begin_step; rt_dp_arm before each micro-batch's backward;
 *     rt_dp_exchange after the last; rt_dp_update (unless the update is skipped)
 *
 * and every rank ends the step with the same parameters, bit for bit. */
#ifndef RINGTRAIN_DP_H
#define RINGTRAIN_DP_H

#include "ringtrain/api.h"
#include "ringtrain/autograd.h"
#include "ringtrain/config.h"
#include "ringtrain/nn.h"
#include "ringtrain/optim.h"

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct rt_dp rt_dp;

/** What every rank learns at the end of a step, summed over ranks. */
typedef struct rt_step_sums {
    double loss;       /**< the global mean loss: each rank adds its sum over B */
    double stop;       /**< ranks that got SIGUSR1 or SIGTERM */
    double failed;     /**< ranks whose data read failed */
    double grad_sumsq; /**< sharded: the squared gradient norm, from each rank's share */
} rt_step_sums;

/** Seconds of a phase: the ring's own work, and the time this rank blocked. */
typedef struct rt_dp_times {
    double comm, wait;
} rt_dp_times;

/** Checks the config's dist section against the job: dist.algorithm
 * "hierarchical" needs the same number of ranks on every host. Returns RT_OK
 * or RT_EBADINPUT naming the file and key, the same on every rank.
 * Collective over comm. */
RT_API int rt_dp_check(const rt_config *c, MPI_Comm comm);
/** Sets up the ring and the buckets over p for this config on comm, installs
 * the bucket hook on g, and decides whether buckets travel on a communication
 * thread (dist.overlap; "auto": when the rank has 2+ cores of its own).
 * Collective over comm. Aborts only on allocation failure. */
RT_API rt_dp *rt_dp_create(rt_params *p, rt_graph *g, const rt_config *c, MPI_Comm comm);
/** Stops the communication thread and frees the ring and buckets (NULL: no-op). */
RT_API void rt_dp_destroy(rt_dp *d);
/** @{ */
/** Cores this rank calls its own, and whether the communication thread runs. */
RT_API int rt_dp_cores(const rt_dp *d);
RT_API bool rt_dp_overlap(const rt_dp *d);
/** @} */
/** The gradient all-reduce: "hierarchical" when the model's buckets take its
 * stages (dist.algorithm), else "ring". */
RT_API const char *rt_dp_algorithm(const rt_dp *d);
/** dist.compress as it runs: "bf16" (gradients on the wire as bf16 with
 * error feedback) or "none" (also a single rank's, which sends nothing). */
RT_API const char *rt_dp_compress(const rt_dp *d);
/** Bytes this rank has handed to the ring since the current step's
 * rt_dp_begin_step: after a step, its gradients, sums and gathers. */
RT_API uint64_t rt_dp_step_bytes(const rt_dp *d);
/** The bytes a rank sends on the ring per step for the gradients, nominally:
 * (N-1)/N of them in the reduce-scatter and again in the all-gather, at 2 B
 * an element with bf16 and 4 B without (the sharded optimizer's all-gather
 * carries the float32 parameters); 0 when nothing travels. The step's few
 * sums and the chunks' rounding come on top (rt_dp_step_bytes measures). */
RT_API uint64_t rt_dp_wire_bytes_nominal(const rt_dp *d);
/** Memory d holds beyond the parameters and optimizer: with bf16 the
 * residuals, the ring's bf16 copy, and on rank 0 every rank's residuals for
 * checkpoints; 0 otherwise. For the run's memory bound. */
RT_API size_t rt_dp_extra_bytes(const rt_dp *d);

/** Starts a step: zeroes the gradients unless the last update already did. */
RT_API void rt_dp_begin_step(rt_dp *d);
/** Before a micro-batch's backward: sync true on the step's last micro-batch
 * when its gradients are to be summed (false also for the benchmark's
 * compute-only step), so buckets leave as backward completes them. */
RT_API void rt_dp_arm(rt_dp *d, bool sync);
/** After the last backward: waits for the buckets and sums *s across ranks
 * (every rank gets the same bits), and gives the global gradient norm. A step
 * that was not synced sums nothing and gives this rank's own norm. */
RT_API int rt_dp_exchange(rt_dp *d, rt_step_sums *s, double *grad_norm, rt_dp_times *t);
/** Sums *s across ranks without the gradients: the compute-only benchmark's
 * ranks meet at a log window's end. */
RT_API int rt_dp_meet(rt_dp *d, rt_step_sums *s);
/** The optimizer step at lr (gradients clipped to clip by grad_norm when
 * clip > 0), leaving the gradients zero for the next step; sharded, on this
 * rank's owned ranges, then every rank gets every parameter. */
RT_API int rt_dp_update(rt_dp *d, rt_optim *o, double lr, double grad_norm, double clip,
                        rt_dp_times *t);
/** Before a checkpoint: the whole optimizer state on every rank (sharded, each
 * rank's moments are current on its owned ranges only), and with bf16 every
 * rank's residuals on rank 0. Collective. */
RT_API int rt_dp_gather_state(rt_dp *d, rt_optim *o);
/** Rank 0 after rt_dp_gather_state with bf16: world rows of the trained
 * prefix's length, row q ring position q's residuals (for rt_ckpt_meta);
 * NULL otherwise. Owned by d. */
RT_API const float *rt_dp_residuals(const rt_dp *d);
/** With bf16: this rank's residuals from the checkpoint at path
 * (rt_ckpt_load_residual; zeros when it has none, a warning when it was
 * written by another world size). Without: nothing. */
RT_API int rt_dp_load_residuals(rt_dp *d, const char *path);

#endif
