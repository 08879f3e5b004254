/* ops_cases_misc.h - gradcheck and parity cases for src/ops/misc.c, included
 * by test_ops.c after its tcase type, builders and X1..X4 macros. */
static tcase cases_misc[] = {
    {.name = NULL},
};
