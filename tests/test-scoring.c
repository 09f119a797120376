/* test-scoring.c — templates and zero-shot scores */
#include "clipscope-private.h"

#include <math.h>

static void
test_template_valid (void)
{
  g_assert_true (clipscope_template_is_valid ("a photo of a {}."));
  g_assert_true (clipscope_template_is_valid ("{}"));
  g_assert_false (clipscope_template_is_valid ("a photo"));
  g_assert_false (clipscope_template_is_valid ("{} and {}"));
  g_assert_false (clipscope_template_is_valid ("{ }"));
}

static void
test_template_apply (void)
{
  g_autofree char *a = clipscope_template_apply ("a photo of a {}.", "cat");
  g_autofree char *b = clipscope_template_apply ("{}", "été");
  g_autofree char *c = clipscope_template_apply ("itap of a {}", "{}");

  g_assert_cmpstr (a, ==, "a photo of a cat.");
  g_assert_cmpstr (b, ==, "été");
  g_assert_cmpstr (c, ==, "itap of a {}");
}

/* Two images against three labels in 2-D, checked against values worked
 * out by hand: cosines are dot products of unit vectors. */
static void
test_score_values (void)
{
  const float s2 = (float) M_SQRT1_2;
  const float images[] = { 1, 0,   s2, s2 };
  const float labels[] = { 1, 0,   0, 1,   -s2, s2 };
  float sim[6], prob[6];

  clipscope_score (images, 2, labels, 3, 2, 100.0f, sim, prob);
  g_assert_cmpfloat_with_epsilon (sim[0], 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (sim[1], 0.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (sim[2], -s2, 1e-6);
  g_assert_cmpfloat_with_epsilon (sim[3], s2, 1e-6);
  g_assert_cmpfloat_with_epsilon (sim[4], s2, 1e-6);
  g_assert_cmpfloat_with_epsilon (sim[5], 0.0, 1e-6);

  /* Row 0: softmax(100 · [1, 0, −0.707]). */
  {
    double z = 1.0 + exp (-100.0) + exp (-100.0 * (1.0 + M_SQRT1_2));
    g_assert_cmpfloat_with_epsilon (prob[0], 1.0 / z, 1e-6);
    g_assert_cmpfloat_with_epsilon (prob[1], exp (-100.0) / z, 1e-9);
  }
  /* Row 1: two equal logits share the mass. */
  g_assert_cmpfloat_with_epsilon (prob[3], prob[4], 1e-7);
  g_assert_cmpfloat_with_epsilon (prob[3] + prob[4] + prob[5], 1.0, 1e-6);
}

/* A large temperature must not overflow exp. */
static void
test_score_large_scale (void)
{
  const float images[] = { 1, 0 };
  const float labels[] = { 1, 0,   0.99f, 0.14106736f };
  float sim[2], prob[2];

  clipscope_score (images, 1, labels, 2, 2, 1e4f, sim, prob);
  g_assert_true (isfinite (prob[0]) && isfinite (prob[1]));
  g_assert_cmpfloat_with_epsilon (prob[0] + prob[1], 1.0, 1e-6);
  g_assert_cmpfloat (prob[0], >, 0.999);
}

/* Sigmoid scoring: each pair on its own, worked out by hand, and the
 * softmax path of clipscope_score_with() the same as clipscope_score(). */
static void
test_score_sigmoid (void)
{
  const float s2 = (float) M_SQRT1_2;
  const float images[] = { 1, 0,   s2, s2 };
  const float labels[] = { 1, 0,   0, 1,   -s2, s2 };
  float sim[6], prob[6], want_sim[6], want_prob[6];

  clipscope_score_with (images, 2, labels, 3, 2, CLIPSCOPE_SCORING_SIGMOID, 10.0f, -5.0f,
                        sim, prob);
  for (int k = 0; k < 6; k++)
    {
      double z = 10.0 * sim[k] - 5.0;
      g_assert_cmpfloat_with_epsilon (prob[k], 1.0 / (1.0 + exp (-z)), 1e-7);
    }
  g_assert_cmpfloat_with_epsilon (prob[0], 1.0 / (1.0 + exp (-5.0)), 1e-7);
  g_assert_cmpfloat_with_epsilon (prob[1], 1.0 / (1.0 + exp (5.0)), 1e-7);
  /* Independent: row 1 does not add up to 1. */
  g_assert_cmpfloat (fabs (prob[3] + prob[4] + prob[5] - 1.0), >, 0.1);

  /* Large logits saturate without overflow. */
  clipscope_score_with (images, 2, labels, 3, 2, CLIPSCOPE_SCORING_SIGMOID, 1e4f, 0.0f, sim, prob);
  g_assert_cmpfloat (prob[0], ==, 1.0f);
  g_assert_cmpfloat (prob[2], ==, 0.0f);

  clipscope_score (images, 2, labels, 3, 2, 100.0f, want_sim, want_prob);
  clipscope_score_with (images, 2, labels, 3, 2, CLIPSCOPE_SCORING_SOFTMAX, 100.0f, -5.0f,
                        sim, prob);
  g_assert_cmpmem (sim, sizeof sim, want_sim, sizeof want_sim);
  g_assert_cmpmem (prob, sizeof prob, want_prob, sizeof want_prob);

  g_assert_cmpstr (clipscope_scoring_to_string (CLIPSCOPE_SCORING_SIGMOID), ==, "sigmoid");
  g_assert_cmpstr (clipscope_family_to_string (CLIPSCOPE_FAMILY_CHINESE_CLIP), ==, "chinese-clip");
}

/* Every preset loads, each template holds one {}, and the Chinese sets are
 * Chinese-CLIP's. */
static void
test_template_presets (void)
{
  const char * const *names = clipscope_template_preset_names ();
  g_auto(GStrv) photo = clipscope_template_preset_get ("photo");
  g_auto(GStrv) chinese = clipscope_template_preset_get ("chinese");
  g_auto(GStrv) imagenet = clipscope_template_preset_get ("imagenet");
  g_auto(GStrv) cn_imagenet = clipscope_template_preset_get ("chinese-imagenet");
  g_auto(GStrv) none = clipscope_template_preset_get ("klingon");

  g_assert_cmpuint (g_strv_length ((char **) names), ==, 4);
  for (const char * const *n = names; *n != NULL; n++)
    {
      g_auto(GStrv) templates = clipscope_template_preset_get (*n);

      g_assert_nonnull (templates);
      g_assert_cmpuint (g_strv_length (templates), >, 0);
      for (char **t = templates; *t != NULL; t++)
        g_assert_true (clipscope_template_is_valid (*t));
    }
  g_assert_null (none);
  g_assert_cmpstrv (photo, ((const char *[]) { "a photo of a {}.", NULL }));
  g_assert_cmpstrv (chinese, ((const char *[]) { "一张{}的照片。", NULL }));
  g_assert_cmpuint (g_strv_length (imagenet), ==, 80);
  g_assert_cmpstr (imagenet[0], ==, "a bad photo of a {}.");
  g_assert_cmpuint (g_strv_length (cn_imagenet), ==, 80);
  g_assert_cmpstr (cn_imagenet[0], ==, "{}的照片。");
  g_assert_cmpstr (cn_imagenet[37], ==, "一张{}的照片。");
  g_assert_cmpstr (cn_imagenet[79], ==, "{}的刺青。");

  g_assert_cmpstr (clipscope_family_default_template (CLIPSCOPE_FAMILY_CLIP), ==, "a photo of a {}.");
  g_assert_cmpstr (clipscope_family_default_template (CLIPSCOPE_FAMILY_SIGLIP), ==, "a photo of a {}.");
  g_assert_cmpstr (clipscope_family_default_template (CLIPSCOPE_FAMILY_CHINESE_CLIP), ==, "一张{}的照片。");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/scoring/template-valid", test_template_valid);
  g_test_add_func ("/engine/scoring/template-apply", test_template_apply);
  g_test_add_func ("/engine/scoring/values", test_score_values);
  g_test_add_func ("/engine/scoring/large-scale", test_score_large_scale);
  g_test_add_func ("/engine/scoring/sigmoid", test_score_sigmoid);
  g_test_add_func ("/engine/scoring/template-presets", test_template_presets);
  return g_test_run ();
}
