/** @file provenance.h
 * Where a checkpoint came from, so a run can be reproduced and a difference
 * explained (`ringtrain reproduce`, `ringtrain diff`).
 *
 * Every checkpoint the trainer writes carries a /provenance group: the
 * ringtrain version and git commit; the OpenBLAS version, kernels and thread
 * count; the MPI library; the world size and launcher; the command line; the
 * step range this run covered; the resume chain (each checkpoint a run
 * resumed from, with its step and world size, oldest first); and for every
 * file the config reads (data.train, data.test, init.from) its path, size,
 * rows per split and a digest of the content of its arrays, read once when
 * the run starts. As JSON (rt_prov_read):
 *
 *     {"ringtrain_version", "git_commit", "openblas_version", "openblas_kernel",
 *      "openblas_threads", "mpi_version", "world_size", "launcher", "command",
 *      "step_from", "step_to",
 *      "files": [{"role", "path", "size", "splits": {"train": {"rows", "digest"}, ...}}],
 *      "chain": [{"checkpoint", "step", "world_size"}]}
 *
 * Only rank 0 makes and writes provenance; every function takes NULL as
 * "none" and does nothing with it.
 */
#ifndef RINGTRAIN_PROVENANCE_H
#define RINGTRAIN_PROVENANCE_H

#include "ringtrain/api.h"
#include "ringtrain/config.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>

struct cJSON;
typedef struct rt_prov rt_prov;

/** Records the process's command line for the provenance made later (the
 * CLI calls it once, first thing). argv is copied. */
RT_API void rt_prov_set_command(int argc, char *const *argv);
/** The provenance of a run of c on `world` ranks started by `launcher`:
 * versions, kernels, MPI, command line, and every file the config reads,
 * each digested here (a streaming pass over its arrays). RT_EBADINPUT
 * naming the file when one cannot be read. */
RT_API int rt_prov_create(const rt_config *c, int world, const char *launcher, rt_prov **out);
/** The run resumed from ckpt, at its step and written by `world` ranks: the
 * chain becomes that checkpoint's chain (when it has provenance) followed by
 * the checkpoint itself, and the run's steps start there. */
RT_API void rt_prov_resumed(rt_prov *p, const char *ckpt, int64_t step, int64_t world);
/** Frees it (NULL: no-op). */
RT_API void rt_prov_destroy(rt_prov *p);
/** Writes /provenance into an open checkpoint file, for a run ending at step. */
RT_API int rt_prov_write(const rt_prov *p, hid_t file, int64_t step);
/** A checkpoint's provenance as the JSON object above; the caller frees it
 * with cJSON_Delete. RT_EBADINPUT naming the file when it has none (the
 * format before 3 did not store it). */
RT_API int rt_prov_read(const char *path, struct cJSON **out);
/** Prints a provenance object as `ringtrain inspect` shows it. */
RT_API void rt_prov_print(const struct cJSON *prov, FILE *out);

#endif
