/* fuzz_h5.c - libFuzzer harness: any bytes as an HDF5 file, opened the ways
 * ringtrain opens input files: as a dataset (validated before anything large
 * is allocated), as a checkpoint (inspect, which reads every parameter with
 * its checksum) and for its stored config. Each must fail cleanly or succeed. */
#include "ringtrain/ckpt.h"
#include "ringtrain/data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/rt_fuzz_%d.h5", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    rt_dataset *d = NULL;
    if (rt_dataset_open(path, "train", 784, 10, &d) == 0) {
        int64_t rows[2] = {0, rt_dataset_rows(d) - 1};
        float *x = malloc(2 * 784 * sizeof(float));
        int32_t y[2];
        if (x) rt_dataset_read(d, rows, rows[1] > 0 ? 2 : 1, x, y);
        free(x);
        rt_dataset_close(d);
    }
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        rt_ckpt_inspect(path, null);
        fclose(null);
    }
    char *json = NULL;
    if (rt_ckpt_read_config(path, &json) == 0) free(json);
    unlink(path);
    return 0;
}
