/* explain.c — where in the image: spatial embeddings and a label's map
 *
 * The towers' spatial paths (clipscope_vit_encode_spatial,
 * clipscope_resnet_encode_spatial) give one projected row per grid cell
 * after the image's own row; here they are normalised and split, and a
 * label's map is a product of those rows with its embedding.
 */
#include "encoder.h"
#include "cpu/cpu-ops.h"

#include <cblas.h>

int
clipscope_model_get_explain_grid (ClipscopeModel *model)
{
  g_return_val_if_fail (model != NULL, 0);

  if (model->info.vision_kind == CLIPSCOPE_VISION_VIT)
    return model->vit.image_size / model->vit.patch_size;
  return model->resnet.pool_grid;
}

gboolean
clipscope_explain_pixels_cpu (ClipscopeModel   *model,
                              ClipscopeScratch *s,
                              const float      *pixels,
                              float            *out,
                              GCancellable     *cancellable,
                              GError          **error)
{
  const int grid = clipscope_model_get_explain_grid (model);
  gboolean ok;

  if (model->info.vision_kind == CLIPSCOPE_VISION_VIT)
    ok = clipscope_vit_encode_spatial (model, s, pixels, out, cancellable, error);
  else
    ok = clipscope_resnet_encode_spatial (model, s, pixels, out, cancellable, error);
  if (ok)
    clipscope_cpu_l2_normalize (out, 1 + grid * grid, model->info.embed_dim);
  return ok;
}

void
clipscope_explain_map (const float *spatial,
                       int          n_cells,
                       const float *label,
                       int          dim,
                       float       *map)
{
  g_return_if_fail (n_cells >= 0 && dim > 0);
  g_return_if_fail (n_cells == 0 || (spatial != NULL && label != NULL && map != NULL));

  if (n_cells == 0)
    return;
  /* Both sides are unit vectors, so each cosine is a dot product. */
  cblas_sgemv (CblasRowMajor, CblasNoTrans, n_cells, dim, 1.0f, spatial, dim,
               label, 1, 0.0f, map, 1);
}
