/** @file hooks.h
 * The testing and benchmark switches, read once from the
 * environment into one const struct. They exist so that tests can make rare
 * events happen on demand (a preemption at a given step, a crash half-way
 * through a checkpoint, a perturbed replica) and benchmarks can time the step
 * without the ring. README, "Testing switches", lists them. */
#ifndef RINGTRAIN_HOOKS_H
#define RINGTRAIN_HOOKS_H

#include "ringtrain/api.h"

#include <stdint.h>

typedef enum rt_no_sync {
    RT_SYNC_ALWAYS,    /**< the normal run */
    RT_SYNC_NEVER,     /**< RINGTRAIN_BENCH_NO_SYNC=1: the compute-only step */
    RT_SYNC_ALTERNATE  /* =alternate: odd log windows skip the ring */
} rt_no_sync;

typedef struct rt_hooks {
    int64_t stop_at_step;   /**< RINGTRAIN_STOP_AT_STEP: the last rank acts as if sent SIGUSR1 in
                               this step (-1: off) */
    int64_t ckpt_crash_step; /**< RINGTRAIN_FAULT_CKPT_CRASH: SIGKILL half-way through writing
                                this step's checkpoint (-1: off) */
    int corrupt_rank;       /**< RINGTRAIN_FAULT_CORRUPT=R:N: rank R perturbs a parameter */
    int64_t corrupt_step;   /**< after step N (-1: off) */
    const char *trace_rows; /**< RINGTRAIN_TRACE_ROWS: each rank logs the rows it reads to
                               PREFIX.rank<R> (NULL: off) */
    rt_no_sync no_sync;     /**< RINGTRAIN_BENCH_NO_SYNC */
    int read_rank;          /**< RINGTRAIN_FAULT_READ=R:N: rank R's read of a micro-batch fails */
    int64_t read_step;      /**< in step N, counted from 1 (-1: off) */
} rt_hooks;

/** The switches, parsed from the environment on the first call (the same
 * struct afterwards). A malformed value leaves its switch off. */
RT_API const rt_hooks *rt_hooks_get(void);
/** Rank 0's warning on stderr when RINGTRAIN_BENCH_NO_SYNC turns the ring
 * off (in every step or every other log window); otherwise nothing. */
RT_API void rt_hooks_warn_no_sync(int rank);

/** RINGTRAIN_FAULT_START_CRASH=FILE: the first process to create FILE (it
 * must not exist) dies of SIGSEGV, as a step that crashes while MPI starts
 * up; the others, and every later launch, go on. Unset: a no-op. */
RT_API void rt_hooks_fault_start(void);

#endif
