/** @file blas.h
 * Which OpenBLAS kernels run the matrix work.
 *
 * OpenBLAS chooses its kernels once, when it loads, from the CPU model. A
 * release older than the CPU does not know the model and falls back to its
 * oldest x86-64 kernels: Debian 12's 0.3.21 takes a Xeon of model 207 for a
 * Prescott and runs sgemm at 24 GFLOP/s on one core, where its SkylakeX
 * kernels reach 147. */
#ifndef RINGTRAIN_BLAS_H
#define RINGTRAIN_BLAS_H

#include "ringtrain/api.h"

/** When the CPU's own features (cpuid, as the OS enables them) allow a newer
 * kernel family than the one OpenBLAS loaded, names that family in
 * OPENBLAS_CORETYPE and runs this program again from the start, with the
 * same argv and PID, so that OpenBLAS loads it. Call first in main, before
 * MPI starts. It does nothing when OPENBLAS_CORETYPE is set (the user's
 * choice) or under valgrind (a second image would run outside it). Returns
 * when no restart is needed, or when the restart failed (a warning says so). */
RT_API void rt_blas_pick_kernels(char **argv);

/** The kernel family OpenBLAS runs ("SkylakeX"). When rt_blas_pick_kernels
 * chose it and OpenBLAS took the choice, *detected is the family OpenBLAS had
 * taken first ("Prescott"), else NULL. */
RT_API const char *rt_blas_kernels(const char **detected);

#endif
