/** @file fid.h
 * Sample quality: the Fréchet distance (FID, Heusel et al. 2017) between
 * generated images and real ones, on a ringtrain classifier's penultimate
 * features (the input of its last linear layer, rt_model_features), and the
 * fraction of class-conditional samples the classifier gives their class.
 */
#ifndef RINGTRAIN_FID_H
#define RINGTRAIN_FID_H

#include "ringtrain/api.h"

#include <stdint.h>

/** Mean (d) and unbiased covariance (d x d, row-major) of the n rows of x
 * (n, d), in double; n >= 2. */
RT_API void rt_fid_moments(const float *x, int64_t n, int64_t d, double *mean, double *cov);

/** The Fréchet distance between N(m1, s1) and N(m2, s2) in d dimensions:
 * |m1 - m2|^2 + tr(s1) + tr(s2) - 2 tr((s1^1/2 s2 s1^1/2)^1/2), the matrix
 * square roots from LAPACK's dsyev (negative eigenvalues of these PSD
 * matrices, rounding, count as 0). RT_ERUNTIME when dsyev fails. */
RT_API int rt_fid_distance(const double *m1, const double *s1, const double *m2, const double *s2, int64_t d,
                           double *out);

/** What `ringtrain eval --fid` asks for. */
typedef struct rt_fid_req {
    const char *classifier; /**< classifier checkpoint: its features, and its config's normalisation */
    const char *gen;        /**< generative checkpoint to draw n samples from; or NULL and: */
    const char *samples;    /**< an .h5 file's /images, float32 [N, C, H, W] in [0, 1] (/labels optional) */
    const char *data;       /**< real images: its test split (NULL: the classifier's data.test) */
    int64_t n;              /**< samples and real images compared (the first n of each) */
    uint64_t seed;          /**< for drawing from gen */
} rt_fid_req;

/** Scores samples against the first n test images and prints one JSON line:
 * fid, fid_train (the same n of the train split against the test split: the
 * floor a perfect model would reach), class_agreement (null without
 * /labels), n and the files. RT_EBADINPUT naming the file and dataset for a
 * bad input (not a classifier, a shape that does not fit it, too few rows). */
RT_API int rt_fid_eval(const rt_fid_req *req);

#endif
