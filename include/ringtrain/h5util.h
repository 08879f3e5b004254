/* h5util.h - small HDF5 and file helpers shared by data, checkpoints and prep.
 * All return RT_OK or an rt_err() code whose message names the file. */
#ifndef RINGTRAIN_H5UTIL_H
#define RINGTRAIN_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

/* Silences HDF5's own stderr traces (errors are reported once, by us). */
void rt_h5_init(void);
/* Debian's HDF5 is not thread-safe: every HDF5 call made while the data
 * loader thread may run holds this (recursive) lock. */
void rt_h5_lock(void);
void rt_h5_unlock(void);
/* Opens an existing HDF5 file read-only; a missing file or a file that is not
 * HDF5 is RT_EBADINPUT with a one-line reason. */
int rt_h5_open(const char *path, hid_t *file);
/* Integer / string attributes on an object. Reading a missing attribute is
 * RT_EBADINPUT (message "<name>: missing attribute"). */
int rt_h5_attr_int(hid_t obj, const char *name, int64_t *out);
int rt_h5_attr_str(hid_t obj, const char *name, char **out); /* caller rt_free()s */
int rt_h5_attr_write_int(hid_t obj, const char *name, int64_t v);
int rt_h5_attr_write_str(hid_t obj, const char *name, const char *s);
/* Writes a whole chunked dataset `name` under loc from memory. */
int rt_h5_write_chunked(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int ndim,
                        const hsize_t *dims, const hsize_t *chunk, const void *data);
/* Makes tmp durable and atomically visible as dst: fsync(tmp), rename, fsync(dir). */
int rt_commit_file(const char *tmp, const char *dst);

#endif
