/** @file ringtrain.h
 * The one header a program that uses libringtrain includes.
 *
 * It brings in every public module. Link with `pkg-config --libs ringtrain`
 * (libringtrain.so.0) or `pkg-config --static --libs ringtrain` (the archive).
 * The README's "The C API" section shows a trainer's lifecycle and a custom
 * model; examples/ has both written out.
 */
#ifndef RINGTRAIN_RINGTRAIN_H
#define RINGTRAIN_RINGTRAIN_H

#include "ringtrain/api.h"
#include "ringtrain/autograd.h"
#include "ringtrain/bench.h"
#include "ringtrain/blas.h"
#include "ringtrain/cfgdiff.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/costmodel.h"
#include "ringtrain/data.h"
#include "ringtrain/dist.h"
#include "ringtrain/dp.h"
#include "ringtrain/eval.h"
#include "ringtrain/events.h"
#include "ringtrain/feed.h"
#include "ringtrain/fid.h"
#include "ringtrain/flight.h"
#include "ringtrain/gradsync.h"
#include "ringtrain/h5util.h"
#include "ringtrain/hooks.h"
#include "ringtrain/keys.h"
#include "ringtrain/launch.h"
#include "ringtrain/model.h"
#include "ringtrain/nn.h"
#include "ringtrain/ops.h"
#include "ringtrain/optim.h"
#include "ringtrain/prep.h"
#include "ringtrain/provenance.h"
#include "ringtrain/progress.h"
#include "ringtrain/report.h"
#include "ringtrain/reproduce.h"
#include "ringtrain/ring.h"
#include "ringtrain/rng.h"
#include "ringtrain/rundir.h"
#include "ringtrain/runlog.h"
#include "ringtrain/sample.h"
#include "ringtrain/tensor.h"
#include "ringtrain/timeline.h"
#include "ringtrain/train.h"

#endif
