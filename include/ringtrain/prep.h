/* prep.h - `ringtrain prep`: public datasets converted to ringtrain's HDF5
 * layout (data.h), each written to a temporary name and renamed into place. */
#ifndef RINGTRAIN_PREP_H
#define RINGTRAIN_PREP_H

/* Converts Fashion-MNIST's gzipped IDX files in src_dir into the HDF5 layout
 * (uint8 /train/x [60000, 28, 28], /test/x [10000, 28, 28], int32 labels,
 * attributes source and num_classes) at out_path. Returns RT_OK or
 * RT_EBADINPUT naming the file. */
int rt_prep_fashion_mnist(const char *src_dir, const char *out_path);

#endif
