/* launch.c - the launcher's environment (launch.h). */
#include "ringtrain/launch.h"

#include "ringtrain/common.h"

#include <stdlib.h>

void rt_launch_read(rt_launch *l) {
    const char *job = getenv("SLURM_JOB_ID"), *restarts = getenv("SLURM_RESTART_COUNT");
    rt_fmt(l->job_id, sizeof l->job_id, "%s", job ? job : "");
    l->requeue_count = restarts ? atoll(restarts) : 0;
    l->launcher = getenv("SLURM_STEP_ID")                                   ? "srun"
                  : (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK")) ? "mpirun"
                                                                            : "none";
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    l->rank = -1;
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0] && l->rank < 0; i++) {
        const char *v = getenv(ranks[i]);
        if (v && *v) l->rank = atoi(v);
    }
}
