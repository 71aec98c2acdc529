// Image parameterizations (Lucid's param/spatial.py + param/color.py): parameters -> RGB image in
// [0, 1], forward and exact adjoint, on the CPU (templated loops, so double serves as the
// reference; ImageParam's float path runs both DFT passes as SGEMMs over twiddle matrices) and on
// CUDA (viz/fourier_param.cu), sharing the per-element maths below.
//   fourier: t = irfft2_ortho(Z * scale) / 4,  scale = 1 / max(|f|, 1/max(H, W))^decay_power
//   pixel  : t = P
//   both   : rgb = sigmoid(C t) per pixel, C = Lucid's colour correlation / its max column norm
// Z is the half spectrum, stored like torch's view_as_real: {N, 3, H, (W/2+1) * 2} (re, im).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/host_device.h"
#include "core/tensor.h"
#include "kernels/sigmoid.h"

namespace cuviz {

// input: the parameters ARE the network input (after preprocessing), with no colour map and no
// sigmoid: the space google/deepdream and Simonyan's class models optimise in, and the only one in
// which a start from an .npy reproduces the network input bit for bit. ImageParam does not map it;
// the Renderer does (viz/method_ops.h: input_to_image and its adjoint).
enum class ParamKind { fourier, pixel, input };

// "fourier", "pixel" or "input".
const char* param_kind_name(ParamKind k);
// Parses "fourier" / "fft" / "pixel" / "input"; throws listing the choices otherwise.
ParamKind parse_param_kind(const char* s);

// Geometry and options of a parameterized batch of images.
struct ImageParamSpec {
  ParamKind kind = ParamKind::fourier;
  int n = 1, h = 128, w = 128;
  float decay_power = 1.f;  // spectrum falloff (Lucid: 1)
  bool decorrelate = true;  // apply the colour matrix C (else rgb = sigmoid(t))

  // Half-spectrum columns W/2 + 1.
  int wh() const { return w / 2 + 1; }
  // Shape of the parameter tensor.
  Shape param_shape() const { return kind == ParamKind::fourier ? Shape{n, 3, h, wh() * 2} : Shape{n, 3, h, w}; }
  // Shape of the image.
  Shape image_shape() const { return Shape{n, 3, h, w}; }
};

// ---- shared per-element maths (CPU loops and CUDA kernels) --------------------------------

// Lucid's colour correlation matrix, divided by its largest column L2 norm (0.46195...).
CUVIZ_HD double color_matrix(int i, int j) {
  constexpr double kC[3][3] = {{0.26, 0.09, 0.02}, {0.27, 0.00, -0.05}, {0.27, -0.09, 0.03}};
  return kC[i][j] / 0.46195237849804394;
}

// rgb_i = sum_j C_ij t_j.
template <class T>
CUVIZ_HD void color_forward(const T t[3], T rgb[3]) {
  for (int i = 0; i < 3; ++i)
    rgb[i] = T(color_matrix(i, 0)) * t[0] + T(color_matrix(i, 1)) * t[1] + T(color_matrix(i, 2)) * t[2];
}
// The adjoint: dt_j = sum_i C_ij drgb_i (C transposed).
template <class T>
CUVIZ_HD void color_backward(const T drgb[3], T dt[3]) {
  for (int j = 0; j < 3; ++j)
    dt[j] = T(color_matrix(0, j)) * drgb[0] + T(color_matrix(1, j)) * drgb[1] + T(color_matrix(2, j)) * drgb[2];
}

// One pixel of the colour stage: t (3 planes, `plane` apart) -> rgb in [0, 1].
template <class T>
CUVIZ_HD void rgb_from_t_at(const T* t, T* rgb, int64_t plane, bool decorrelate) {
  T in[3] = {t[0], t[plane], t[2 * plane]}, out[3];
  if (decorrelate)
    color_forward(in, out);
  else
    for (int c = 0; c < 3; ++c) out[c] = in[c];
  for (int c = 0; c < 3; ++c) rgb[c * plane] = sigmoid_value(out[c]);  // kernels/sigmoid.h
}
// Its adjoint at one pixel: (rgb, drgb) -> dt.
template <class T>
CUVIZ_HD void rgb_from_t_backward_at(const T* rgb, const T* drgb, T* dt, int64_t plane, bool decorrelate) {
  T dz[3], out[3];
  for (int c = 0; c < 3; ++c) dz[c] = sigmoid_grad(rgb[c * plane], drgb[c * plane]);
  if (decorrelate)
    color_backward(dz, out);
  else
    for (int c = 0; c < 3; ++c) out[c] = dz[c];
  for (int c = 0; c < 3; ++c) dt[c * plane] = out[c];
}

// Frequency scale at (ky, kx), computed in float exactly as torch does (fftfreq, rfftfreq,
// clamp, pow) so that the reference pipeline is matched bit for bit where possible.
CUVIZ_HD float spectrum_scale(int ky, int kx, int h, int w, float decay_power) {
  const float fy = float(ky <= (h - 1) / 2 ? ky : ky - h) * float(1.0 / h);
  const float fx = float(kx) * float(1.0 / w);
  const float f = sqrtf(fx * fx + fy * fy);
  const float lo = float(1.0 / (w > h ? w : h));
  return 1.f / powf(f > lo ? f : lo, decay_power);
}

// Hermitian weight of column kx in the inverse real DFT along W: the DC column and (W even)
// the Nyquist column stand for themselves, every other column also for its mirror image.
CUVIZ_HD int rdft_weight(int kx, int w) { return (kx == 0 || 2 * kx == w) ? 1 : 2; }

// Pass 1 (along H, complex): Y[h, kx] = sum_ky Z[ky, kx] scale[ky, kx] e^{+2 pi i ky h / H}.
// `spec` is one {H, Wh, 2} plane, cos_h/sin_h hold cos/sin(2 pi k / H) for k < H.
template <class T>
CUVIZ_HD void fourier_rows_at(const T* spec, const T* scale, const T* cos_h, const T* sin_h, int h_size, int wh,
                              int h, int kx, T& re, T& im) {
  T r = 0, i = 0;
  for (int ky = 0, k = 0; ky < h_size; ++ky, k = (k + h) % h_size) {
    const T s = scale[ky * wh + kx];
    const T zr = spec[(ky * wh + kx) * 2] * s, zi = spec[(ky * wh + kx) * 2 + 1] * s;
    r += zr * cos_h[k] - zi * sin_h[k];
    i += zr * sin_h[k] + zi * cos_h[k];
  }
  re = r;
  im = i;
}

// Pass 2 (along W, complex -> real): t[h, w] = norm sum_kx weight(kx) Re(Y[h, kx] e^{2 pi i kx w / W}).
// Only Re(Y) of the DC and Nyquist columns enters (their e^{...} is real), as in irfft.
template <class T>
CUVIZ_HD T fourier_cols_at(const T* y, const T* cos_w, const T* sin_w, int w_size, int wh, int h, int w, T norm) {
  T acc = 0;
  const T* row = y + int64_t(h) * wh * 2;
  for (int kx = 0, k = 0; kx < wh; ++kx, k = (k + w) % w_size)
    acc += T(rdft_weight(kx, w_size)) * (row[kx * 2] * cos_w[k] - row[kx * 2 + 1] * sin_w[k]);
  return acc * norm;
}

// Adjoint of pass 2: dY[h, kx] = norm weight(kx) sum_w dt[h, w] (cos, -sin)(2 pi kx w / W).
template <class T>
CUVIZ_HD void fourier_cols_adjoint_at(const T* dt, const T* cos_w, const T* sin_w, int w_size, int h, int kx, T norm,
                                      T& dre, T& dim) {
  T r = 0, i = 0;
  const T* row = dt + int64_t(h) * w_size;
  for (int w = 0, k = 0; w < w_size; ++w, k = (k + kx) % w_size) {
    r += row[w] * cos_w[k];
    i -= row[w] * sin_w[k];
  }
  const T g = norm * T(rdft_weight(kx, w_size));
  dre = r * g;
  dim = i * g;
}

// Adjoint of pass 1: dZ[ky, kx] = scale[ky, kx] sum_h dY[h, kx] e^{-2 pi i ky h / H}, written as
// the transpose of the real 2x2 rotation that pass 1 applies to (Re Z, Im Z).
template <class T>
CUVIZ_HD void fourier_rows_adjoint_at(const T* dy, const T* scale, const T* cos_h, const T* sin_h, int h_size, int wh,
                                      int ky, int kx, T& dre, T& dim) {
  T r = 0, i = 0;
  for (int h = 0, k = 0; h < h_size; ++h, k = (k + ky) % h_size) {
    const T yr = dy[(h * wh + kx) * 2], yi = dy[(h * wh + kx) * 2 + 1];
    r += yr * cos_h[k] + yi * sin_h[k];
    i += -yr * sin_h[k] + yi * cos_h[k];
  }
  const T s = scale[ky * wh + kx];
  dre = r * s;
  dim = i * s;
}

// The tables both passes read, in T: cos/sin of 2 pi k / H and 2 pi k / W, the spectrum scale
// {H, Wh} and the orthonormal factor 1 / (sqrt(H W) * 4).
template <class T>
struct FourierTables {
  std::vector<T> cos_h, sin_h, cos_w, sin_w, scale;
  T norm = 0;
  explicit FourierTables(const ImageParamSpec& spec);
};

// ---- CPU implementation (also the double-precision reference) -----------------------------

// image = rgb(params); params of spec.param_shape(), image of spec.image_shape().
template <class T>
void image_param_forward_cpu(const ImageParamSpec& spec, const BasicTensor<T>& params, const BasicTensor<T>& image);
// dparams = (d image / d params)^T dimage, given the forward's image. Overwrites dparams.
template <class T>
void image_param_backward_cpu(const ImageParamSpec& spec, const BasicTensor<T>& image, const BasicTensor<T>& dimage,
                              const BasicTensor<T>& dparams);

// ---- the parameterization object used by the render loop (float, CPU or CUDA) -------------

class ImageParam {
 public:
  // Builds the tables (and, on CUDA, the workspaces) once; no allocation happens per step.
  ImageParam(const ImageParamSpec& spec, Device device);

  const ImageParamSpec& spec() const { return spec_; }
  Device device() const { return device_; }
  // Fills params with normal(0, sd) draws of the counter-based generator (identical on any
  // device: drawn on the host, in double, then copied).
  void init(const Tensor& params, uint64_t seed, float sd = 0.01f) const;
  // image = rgb(params) in [0, 1].
  void forward(const Tensor& params, const Tensor& image);
  // dparams = adjoint applied to dimage (overwrites), given the forward's output image.
  void backward(const Tensor& image, const Tensor& dimage, const Tensor& dparams);

 private:
  void check(const char* op, const Tensor& a, Shape want, const char* what) const;
  void forward_cpu(const Tensor& params, const Tensor& image);
  void backward_cpu(const Tensor& image, const Tensor& dimage, const Tensor& dparams);
  ImageParamSpec spec_;
  Device device_;
  // CPU Fourier: pass 1 as M1 (2H x 2H) = [[C, -S], [S, C]] with C, S = cos, sin(2 pi ky h / H);
  // pass 2 as M2 (2Wh x W) = norm weight(kx) [cos; -sin](2 pi kx w / W); the spectrum scale
  // {H, Wh}; two scratch planes of 2H x (3N Wh) floats.
  std::vector<float> m1_, m2_, scale_, buf_a_, buf_b_;
  Buffer tables_;     // CUDA: cos_h | sin_h | cos_w | sin_w | scale (floats)
  Buffer workspace_;  // CUDA: Y / dY {N, 3, H, Wh, 2} then dt {N, 3, H, W}
};

}  // namespace cuviz
