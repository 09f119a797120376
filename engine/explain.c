/* explain.c — where in the image: a label's map
 *
 * The towers' spatial passes (clipscope_graph_explain_pixels()) give one
 * normalised row per grid cell after the image's own row; a label's map
 * is a product of those rows with its embedding.
 */
#include "model.h"

#include <cblas.h>

int
clipscope_model_get_explain_grid (ClipscopeModel *model)
{
  g_return_val_if_fail (model != NULL, 0);

  if (model->info.vision_kind == CLIPSCOPE_VISION_VIT)
    return model->vit.image_size / model->vit.patch_size;
  return model->resnet.pool_grid;
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
  clipscope_blas_begin ();
  cblas_sgemv (CblasRowMajor, CblasNoTrans, n_cells, dim, 1.0f, spatial, dim,
               label, 1, 0.0f, map, 1);
  clipscope_blas_end ();
}
