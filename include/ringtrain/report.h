/** @file report.h
 * Reading a run directory back: `ringtrain report` (a text
 * summary) and `ringtrain plot` (a PNG through gnuplot). */
#ifndef RINGTRAIN_REPORT_H
#define RINGTRAIN_REPORT_H

#include "ringtrain/api.h"

#include <stdio.h>

/** Prints throughput, the compute/communication/wait split, the slowest rank
 * against the median rank (with --per-rank-metrics files), and the final
 * metrics of RUN_DIR. Returns RT_OK or RT_EBADINPUT naming the file. */
RT_API int rt_report(const char *run_dir, FILE *out);
/** Draws loss (train and eval), accuracy, learning rate and samples/s against
 * step into a PNG at out_png, driving gnuplot's pngcairo terminal. */
RT_API int rt_plot(const char *run_dir, const char *out_png);

#endif
