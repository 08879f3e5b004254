/** @file flight.h
 * The flight recorder: what each rank is doing, for a stall report.
 *
 * Every rank of a training run keeps one small record in a file it maps into
 * memory, RUN/flight/rank-NNNNN: its step, its phase (data, compute, the
 * gradient exchange, the optimizer, ...) and the collective and bucket its
 * communication is in. Updates are plain stores into shared memory, so they
 * cost nothing and stay readable when the rank is stopped (SIGSTOP) or dead.
 *
 * When a ring deadline fires, the rank that saw it names its own step, bucket
 * and collective in its error line, then reads every rank's record from the
 * run directory (a stopped rank cannot answer a message, but its record is
 * there) and writes one "stall" line per rank to stderr and a "stall" event
 * to metrics.jsonl. The first rank to report takes RUN/flight/stall and the
 * others stay quiet, so a job reports once. The anchors are NCCL's flight
 * recorder and Horovod's stall inspector. Ranks on other hosts are found
 * where the run directory is shared, as it is for checkpoints. */
#ifndef RINGTRAIN_FLIGHT_H
#define RINGTRAIN_FLIGHT_H

#include "ringtrain/api.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** A rank's phase, as the main thread last set it. */
typedef enum rt_phase {
    RT_PHASE_SETUP,     /* loading, resuming, first checkpoint */
    RT_PHASE_DATA,      /* waiting for a micro-batch */
    RT_PHASE_FORWARD,   /* forward, and the loss */
    RT_PHASE_BACKWARD,
    RT_PHASE_EXCHANGE,  /* waiting for the gradient exchange to finish */
    RT_PHASE_OPTIMIZER, /* the update, and a sharded step's all-gathers */
    RT_PHASE_CHECK,     /* dist.check_every: the replicas compare */
    RT_PHASE_EVAL,
    RT_PHASE_CHECKPOINT,
    RT_PHASE_DONE,
    RT_NPHASES
} rt_phase;

/** The collective a rank's communication is in. */
typedef enum rt_comm_op {
    RT_COMM_IDLE,
    RT_COMM_ALLREDUCE,
    RT_COMM_REDUCE_SCATTER,
    RT_COMM_ALLGATHER,
    RT_COMM_SCALARS, /* the step's loss and flags */
    RT_NCOMM
} rt_comm_op;

/** Maps RUN/flight/rank-NNNNN for this rank. A failure only disables the
 * recorder (a warning says so): a run never stops for it. */
RT_API void rt_flight_open(const char *run_dir, int rank);
/** Marks the record done and unmaps it; the file stays for later reading.
 * main() calls it once the verb has returned, so that a verb that failed
 * with a lost rank can still say where it was. */
RT_API void rt_flight_close(void);
/** The main thread's step (1-based, the step being computed) and phase. */
RT_API void rt_flight_phase(rt_phase ph, int64_t step);
/** Only the phase, the step staying. */
RT_API void rt_flight_phase_only(rt_phase ph);
/** The communication's collective and bucket (-1: not a bucket) of nb. */
RT_API void rt_flight_comm(rt_comm_op op, int bucket, int nb);
/** Where this rank is, as text for an error line: "at step 12, phase
 * exchange, reduce-scatter of bucket 1 of 3". Empty when not recording. */
RT_API void rt_flight_where(char *buf, size_t len);
/** The stall report of a deadline this rank saw: unless another rank has
 * reported already, one line per rank to out and a stall event to
 * RUN/metrics.jsonl. Returns the number of ranks reported (0: none). */
RT_API int rt_flight_report(FILE *out, const char *reason);

/** A phase's name as reports print it ("exchange"); "?" out of range. */
RT_API const char *rt_phase_name(rt_phase ph);
/** A collective's name as reports print it ("reduce-scatter"); "?" out of range. */
RT_API const char *rt_comm_name(rt_comm_op op);

#endif
