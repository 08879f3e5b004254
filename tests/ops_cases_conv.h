/* ops_cases_conv.h - gradcheck and parity cases for src/ops/conv.c, included
 * by test_ops.c after its tcase type, builders and X1..X4 macros. */
static tcase cases_conv[] = {
    {.name = NULL},
};
