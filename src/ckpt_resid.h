/* ckpt_resid.h - writing the bf16 ring's residuals into an open checkpoint
 * (internal: ckpt.c calls it; rt_ckpt_load_residual in ckpt.h reads them). */
#ifndef RINGTRAIN_CKPT_RESID_H
#define RINGTRAIN_CKPT_RESID_H

#include "h5chunk.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* /dist/residual in f from resid (rows x cols floats, row-major). */
int rt_ckpt_write_residual(hid_t f, const float *resid, int64_t rows, size_t cols, rt_h5_scratch *scratch);

#endif
