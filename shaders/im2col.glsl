/* im2col.glsl — one element of the im2col matrix of a convolution, read
 * from the input map described by gemm-push.glsl: row m = (image b,
 * out_y, out_x), column k = (channel, kernel_y, kernel_x), which matches
 * the [c_out, c_in, k, k] weight. The including kernel declares a1[],
 * the input map. */

/* The input under kernel tap k for the output pixel whose window starts
 * at (oy, ox) of image b; 0 in the zero padding around the map. */
afp
conv_load (int  b,
           int  oy,
           int  ox,
           uint k)
{
  uint kk = p.ksize * p.ksize;
  uint ch = k / kk, r = k % kk;
  int sy = oy + int (r / p.ksize), sx = ox + int (r % p.ksize);

  if (sy < 0 || sx < 0 || sy >= int (p.in_h) || sx >= int (p.in_w))
    return 0.0;
  return a1[p.a_off + uint (b) * p.s_b + ch * p.s_c + uint (sy) * p.s_y + uint (sx) * p.s_x];
}

/* The image and the window's corner of output row m. */
void
conv_window (uint    m,
             out int b,
             out int oy,
             out int ox)
{
  uint hw = p.out_h * p.out_w, r = m % hw;

  b = int (m / hw);
  oy = int (r / p.out_w) * int (p.stride) - int (p.pad);
  ox = int (r % p.out_w) * int (p.stride) - int (p.pad);
}
