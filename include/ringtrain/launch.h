/** @file launch.h
 * How this process was started, read from the launcher's
 * environment: mpirun (Open MPI, PMIx), srun (Slurm) or none. Recorded in
 * metrics.jsonl and checkpoints, and used to run a verb once per job. */
#ifndef RINGTRAIN_LAUNCH_H
#define RINGTRAIN_LAUNCH_H

#include "ringtrain/api.h"

#include <stdint.h>

typedef struct rt_launch {
    const char *launcher;  /**< "srun", "mpirun" or "none" */
    char job_id[64];       /**< SLURM_JOB_ID, "" outside Slurm */
    int64_t requeue_count; /**< SLURM_RESTART_COUNT */
    int rank;              /**< this process's rank as the launcher numbers it, -1 outside one */
} rt_launch;

/** Fills *l from the environment the launcher (srun, mpirun or none) set. */
RT_API void rt_launch_read(rt_launch *l);

#endif
