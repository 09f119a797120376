/* vulkan-shaders.c — the SPIR-V of every kernel, compiled by glslc at
 * build time (shaders/meson.build) as C initialiser lists of 32-bit words. */
#include "vulkan-device.h"

static const uint32_t gemm_f32[] =
#include "gemm_f32.spv.h"
;
static const uint32_t gemm_f16[] =
#include "gemm_f16.spv.h"
;
static const uint32_t conv_f32[] =
#include "conv_f32.spv.h"
;
static const uint32_t conv_f16[] =
#include "conv_f16.spv.h"
;
static const uint32_t layer_norm[] =
#include "layer_norm.spv.h"
;
static const uint32_t l2_norm[] =
#include "l2_norm.spv.h"
;
static const uint32_t attention[] =
#include "attention.spv.h"
;
static const uint32_t embed_tokens_f32[] =
#include "embed_tokens_f32.spv.h"
;
static const uint32_t embed_tokens_f16[] =
#include "embed_tokens_f16.spv.h"
;
static const uint32_t assemble_tokens[] =
#include "assemble_tokens.spv.h"
;
static const uint32_t gather_rows[] =
#include "gather_rows.spv.h"
;
static const uint32_t avg_pool[] =
#include "avg_pool.spv.h"
;
static const uint32_t gemm_texel[] =
#include "gemm_texel.spv.h"
;
static const uint32_t attention_texel[] =
#include "attention_texel.spv.h"
;
static const uint32_t im2col[] =
#include "im2col.spv.h"
;
static const uint32_t layer_norm_subgroup[] =
#include "layer_norm_subgroup.spv.h"
;
static const uint32_t l2_norm_subgroup[] =
#include "l2_norm_subgroup.spv.h"
;
static const uint32_t gemm_tiled_f32[] =
#include "gemm_tiled_f32.spv.h"
;
static const uint32_t gemm_tiled_f16[] =
#include "gemm_tiled_f16.spv.h"
;
static const uint32_t gemm_texel_f16[] =
#include "gemm_texel_f16.spv.h"
;

#define SHADER(s) { #s, s, sizeof s }

static const struct {
  const char     *name;
  const uint32_t *code;
  gsize           n_bytes;
} shaders[CLIPSCOPE_VK_N_KERNELS] = {
  [CLIPSCOPE_VK_GEMM] = SHADER (gemm_f32),
  [CLIPSCOPE_VK_GEMM_F16] = SHADER (gemm_f16),
  [CLIPSCOPE_VK_CONV] = SHADER (conv_f32),
  [CLIPSCOPE_VK_CONV_F16] = SHADER (conv_f16),
  [CLIPSCOPE_VK_LAYER_NORM] = SHADER (layer_norm),
  [CLIPSCOPE_VK_L2_NORM] = SHADER (l2_norm),
  [CLIPSCOPE_VK_ATTENTION] = SHADER (attention),
  [CLIPSCOPE_VK_EMBED_TOKENS] = SHADER (embed_tokens_f32),
  [CLIPSCOPE_VK_EMBED_TOKENS_F16] = SHADER (embed_tokens_f16),
  [CLIPSCOPE_VK_ASSEMBLE_TOKENS] = SHADER (assemble_tokens),
  [CLIPSCOPE_VK_GATHER_ROWS] = SHADER (gather_rows),
  [CLIPSCOPE_VK_AVG_POOL] = SHADER (avg_pool),
  [CLIPSCOPE_VK_GEMM_TEXEL] = SHADER (gemm_texel),
  [CLIPSCOPE_VK_ATTENTION_TEXEL] = SHADER (attention_texel),
  [CLIPSCOPE_VK_IM2COL] = SHADER (im2col),
  [CLIPSCOPE_VK_LAYER_NORM_SUBGROUP] = SHADER (layer_norm_subgroup),
  [CLIPSCOPE_VK_L2_NORM_SUBGROUP] = SHADER (l2_norm_subgroup),
  [CLIPSCOPE_VK_GEMM_TILED] = SHADER (gemm_tiled_f32),
  [CLIPSCOPE_VK_GEMM_TILED_F16] = SHADER (gemm_tiled_f16),
  [CLIPSCOPE_VK_GEMM_TEXEL_F16] = SHADER (gemm_texel_f16),
};

const uint32_t *
clipscope_vk_shader_code (ClipscopeVkKernel kernel,
                          gsize            *n_bytes,
                          const char      **name)
{
  g_assert (kernel < CLIPSCOPE_VK_N_KERNELS);
  *n_bytes = shaders[kernel].n_bytes;
  *name = shaders[kernel].name;
  return shaders[kernel].code;
}
