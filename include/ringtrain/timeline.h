/** @file timeline.h
 * `train --timeline FILE.json`: each rank's phases as Chrome trace events.
 *
 * The flight recorder (flight.h) reports every change of a rank's phase and
 * of its communication; with a timeline on, each change also closes the span
 * that was open on its track and opens the next. Track 0 of a rank is its
 * main thread (setup, data, forward, backward, exchange waits, optimizer,
 * replica checks, eval, checkpoints), track 1 its communication (each
 * bucket's all-reduce, reduce-scatter and all-gather, and the step's scalar
 * sums). Spans are kept in memory allocated when recording starts, so a
 * recorded step allocates nothing; past the capacity, spans are counted as
 * dropped. At the end every rank writes FILE.rank<R> and rank 0 joins them
 * into FILE: {"traceEvents": [...]}, one process per rank (pid = rank, named
 * "rank R"), B and E events in microseconds of wall-clock time, which
 * chrome://tracing and Perfetto open. */
#ifndef RINGTRAIN_TIMELINE_H
#define RINGTRAIN_TIMELINE_H

#include "ringtrain/api.h"

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

/** Records a timeline for the next run, to be written to path (NULL: off). */
RT_API void rt_timeline_enable(const char *path);
/** Starts recording for this rank (rt_flight_open calls it): no-op when off. */
RT_API void rt_timeline_start(int rank);
/** On track (0 main, 1 communication): the span open there ends at t (wall
 * clock seconds) and one of kind (an rt_phase on track 0, an rt_comm_op on
 * track 1; RT_COMM_IDLE opens none) starts, for bucket (-1: none) of step. */
RT_API void rt_timeline_mark(int track, int kind, int bucket, int64_t step, double t);
/** Collective over comm: closes the open spans, writes every rank's part and
 * joins them into the file on rank 0. Returns RT_OK, or an error naming the
 * file, on every rank. Off: RT_OK. */
RT_API int rt_timeline_write(MPI_Comm comm);

#endif
