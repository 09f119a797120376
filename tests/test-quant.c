/* test-quant.c — the int8 precision's quantisation rule and epilogue
 * (engine/cpu/cpu-quant.h), against the rule worked out by hand */
#include "clipscope-private.h"
#include "cpu/cpu-quant.h"

#include <math.h>

/* s = max|x| / 127 and q = x / s rounded to the nearest, ties to even. */
static void
test_rule (void)
{
  /* max 127 · 0.5: s = 0.5, so x / s = 2x; 0.25 and 0.75 land on the
   * ties 0.5 and 1.5, which go to 0 and 2; -1.25 on -2.5, to -2. */
  const float x[] = { 63.5f, 0.25f, 0.75f, -1.25f, -63.5f, 1.0f, 0.3f };
  const gint8 want[] = { 127, 0, 2, -2, -127, 2, 1 };
  gint8 q[G_N_ELEMENTS (x)];
  float s;

  clipscope_cpu_quantize_rows (x, G_N_ELEMENTS (x), 1, G_N_ELEMENTS (x), q, &s, FALSE);
  g_assert_cmpfloat (s, ==, 0.5f);
  for (gsize i = 0; i < G_N_ELEMENTS (x); i++)
    g_assert_cmpint (q[i], ==, want[i]);
}

/* Rows apart, with their own scales; a row of zeros has scale 0; a row
 * with NaN or an infinity has scale NaN (its sums become NaN, as they
 * would in float32), its bytes 0. */
static void
test_rows (void)
{
  const float x[4][5] = {
    { 1.0f, -2.0f, 0.5f, 0.0f, 9.9f },
    { 0.0f, 0.0f, 0.0f, 0.0f, 0.0f },
    { 1.0f, NAN, 2.0f, 0.0f, 99.0f },
    { -INFINITY, 1.0f, 0.0f, 0.0f, 0.0f },
  };
  gint8 q[3][4];
  float s[3];

  /* Four columns of each row, read with a stride of five. */
  clipscope_cpu_quantize_rows (&x[0][0], 5, 3, 4, &q[0][0], s, TRUE);
  g_assert_cmpfloat (s[0], ==, 2.0f / 127.0f);
  g_assert_cmpint (q[0][0], ==, 64);      /* 1 / s is 63.5 in float32: to even */
  g_assert_cmpint (q[0][1], ==, -127);
  g_assert_cmpint (q[0][2], ==, 32);      /* 31.75 */
  g_assert_cmpint (q[0][3], ==, 0);
  g_assert_cmpfloat (s[1], ==, 0.0f);
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (q[1][i], ==, 0);
  g_assert_true (isnan (s[2]));
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (q[2][i], ==, 0);
  clipscope_cpu_quantize_rows (&x[3][0], 5, 1, 5, &q[0][0], s, FALSE);
  g_assert_true (isnan (s[0]));
}

/* y = act(acc · (rs · cs) + b (+ y)), the residual before the activation. */
static void
test_epilogue (void)
{
  const gint32 acc[2][3] = { { 10, -20, 0 }, { 127 * 127, 1, -1 } };
  const float rs[2] = { 0.5f, 0.25f }, cs[3] = { 0.1f, 1.0f, 2.0f }, b[3] = { 1.0f, 2.0f, -3.0f };
  float y[2][4] = { { 1, 1, 1, 99 }, { -1, -1, -1, 99 } };

  clipscope_cpu_dequantize (&acc[0][0], 2, 3, rs, cs, b, &y[0][0], 4, CLIPSCOPE_ACT_NONE, TRUE,
                            FALSE);
  g_assert_cmpfloat_with_epsilon (y[0][0], 10 * 0.05f + 1.0f + 1.0f, 1e-6);
  g_assert_cmpfloat_with_epsilon (y[0][1], -20 * 0.5f + 2.0f + 1.0f, 1e-6);
  g_assert_cmpfloat_with_epsilon (y[0][2], 0.0f - 3.0f + 1.0f, 1e-6);
  g_assert_cmpfloat_with_epsilon (y[1][0], 16129 * 0.025f + 1.0f - 1.0f, 1e-3);
  g_assert_cmpfloat_with_epsilon (y[1][2], -0.5f - 3.0f - 1.0f, 1e-6);
  g_assert_cmpfloat (y[0][3], ==, 99.0f);   /* past n_out: untouched */

  clipscope_cpu_dequantize (&acc[0][0], 2, 3, rs, cs, NULL, &y[0][0], 4, CLIPSCOPE_ACT_RELU,
                            FALSE, TRUE);
  g_assert_cmpfloat_with_epsilon (y[0][0], 0.5f, 1e-6);
  g_assert_cmpfloat (y[0][1], ==, 0.0f);
  g_assert_cmpfloat_with_epsilon (y[1][1], 0.25f, 1e-6);
  g_assert_cmpfloat (y[1][2], ==, 0.0f);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpu/quant/rule", test_rule);
  g_test_add_func ("/cpu/quant/rows", test_rows);
  g_test_add_func ("/cpu/quant/epilogue", test_epilogue);
  return g_test_run ();
}
