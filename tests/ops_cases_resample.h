/* ops_cases_resample.h - gradcheck and parity cases for src/ops/resample.c, included
 * by test_ops.c after its tcase type, builders and X1..X4 macros. */
static tcase cases_resample[] = {
    {.name = NULL},
};
