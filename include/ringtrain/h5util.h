/** @file h5util.h
 * Small HDF5 and file helpers shared by data, checkpoints and prep.
 * All return RT_OK or an rt_err() code whose message names the file. */
#ifndef RINGTRAIN_H5UTIL_H
#define RINGTRAIN_H5UTIL_H

#include "ringtrain/api.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

/** Silences HDF5's own stderr traces (errors are reported once, by us). */
RT_API void rt_h5_init(void);
/** @{ */
/** Debian's HDF5 is not thread-safe: every HDF5 call made while the data
 * loader thread may run holds this (recursive) lock. */
RT_API void rt_h5_lock(void);
RT_API void rt_h5_unlock(void);
/** @} */
/** Opens an existing HDF5 file read-only; a missing file or a file that is not
 * HDF5 is RT_EBADINPUT with a one-line reason. */
RT_API int rt_h5_open(const char *path, hid_t *file);
/** @{ */
/** Integer / string attributes on an object. Reading a missing attribute is
 * RT_EBADINPUT (message "<name>: missing attribute"). */
RT_API int rt_h5_attr_int(hid_t obj, const char *name, int64_t *out);
RT_API int rt_h5_attr_str(hid_t obj, const char *name, char **out); /* caller rt_free()s */
RT_API int rt_h5_attr_write_int(hid_t obj, const char *name, int64_t v);
RT_API int rt_h5_attr_write_str(hid_t obj, const char *name, const char *s);
RT_API int rt_h5_attr_write_double(hid_t obj, const char *name, double v);
/** @} */
/** Writes a whole chunked dataset `name` under loc from memory. */
RT_API int rt_h5_write_chunked(hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                               int ndim, const hsize_t *dims, const hsize_t *chunk,
                               const void *data);
/** Seals. ringtrain's checkpoints reserve HDF5's user block, the first
 * RT_SEAL_BYTES of the file, which libhdf5 skips, for a seal written once the
 * file is complete:
 *     "ringtrain-seal 1\ndigest XXXXXXXXXXXXXXXX\nbytes N\n", NUL-padded,
 * a 64-bit digest (h5util.c) and the length of everything after the block. Checking it before
 * libhdf5 parses anything turns a truncated, corrupted or edited file into one
 * clear error, and keeps such bytes from libhdf5, which follows corrupt
 * metadata unchecked (the fuzzer crashed it so twice). */
#define RT_SEAL_BYTES 512
/** A file-creation property list whose user block holds a seal (H5Pclose it). */
RT_API hid_t rt_h5_seal_fcpl(void);
/** Writes path's seal; the file must have been created with rt_h5_seal_fcpl(),
 * or by any tool with a 512-byte user block (h5py: userblock_size=512). */
RT_API int rt_h5_seal(const char *path);
/** What rt_h5_open_checked asks of a file's seal. */
typedef enum rt_seal_rule {
    RT_SEAL_REQUIRED,   /**< a checkpoint read back: it must carry a seal that matches */
    RT_SEAL_IF_PRESENT, /**< a dataset or init.from file: a seal, if any, must match */
    RT_SEAL_IGNORED,    /**< `ringtrain seal`: the old seal is about to be replaced */
} rt_seal_rule;
/** Seconds a forked probe of an unsealed file may take (rt_h5_open_checked). */
#define RT_H5_PROBE_SECONDS 10
/** Opens path read-only after checking its seal by rule. A file read without a
 * matching seal is first opened in a forked probe process that walks what
 * libhdf5 parses: every object, attribute, dataset layout and chunk index,
 * and the paths in names (NULL-terminated, may be NULL) that the caller will
 * look up. If libhdf5 crashes or hangs there (> RT_H5_PROBE_SECONDS), the
 * file is refused with RT_EBADINPUT; otherwise it is opened here for real. */
RT_API int rt_h5_open_checked(const char *path, rt_seal_rule rule, const char *const *names,
                              hid_t *file);
/** Makes tmp durable and atomically visible as dst: fsync(tmp), rename, fsync(dir). */
RT_API int rt_commit_file(const char *tmp, const char *dst);

#endif
