// Image regularizers (Lucid's objectives on "input"), per image, value and gradient:
//   l1  : R = sum |x - c|                         dR/dx = sign(x - c)  (0 at 0, as TF)
//   l2  : R = sqrt(1e-6 + sum (x - c)^2)          dR/dx = (x - c) / R
//   tv  : R = sum |x[y+1,x] - x[y,x]| + |x[y,x+1] - x[y,x]|   (tf.image.total_variation)
//   blur: R = 0.5 sum (x - blur(x))^2, blur held constant     dR/dx = x - blur(x)
//   tv2 : R = 0.5 sum (x[y+1,x] - x[y,x])^2 + (x[y,x+1] - x[y,x])^2   dR/dx = sum over the 4-neighbours
//         (x - x_nb): the squared total variation of neural-style's TVLoss (which leaves out the
//         last row's and column's differences to each other)
//         (blur_input_each_step: 3x3 [1 2 1]x[1 2 1] kernel normalised by its in-image weight)
// and the two priors of Mahendran & Vedaldi 2015 ("Understanding deep image representations by
// inverting them", eqs. 3 and 4), with an exponent p:
//   alpha : R = sum |x - c|^p  (the alpha-norm ||x - c||_alpha^alpha, p = alpha = 6 there)
//           dR/dx = p |x - c|^(p-1) sign(x - c)
//   tv_beta: R = sum_{y,x} S(y,x)^(p/2),  S = (x[y,x+1] - x[y,x])^2 + (x[y+1,x] - x[y,x])^2
//           (TV^beta, p = beta = 2 there; a difference leaving the image counts 0, as M&V's
//           replicated border). dR/dx[y,x] collects the pixel's own term and those of its left and
//           upper neighbours, each through f(S) = p S^(p/2 - 1) (taken as 0 at S = 0, where every
//           difference it multiplies is 0: bounded for p >= 1).
#pragma once

#include <cmath>
#include <string>

#include "core/host_device.h"
#include "core/tensor.h"

namespace cuviz {

enum class RegKind { l1, l2, tv, blur, tv2, alpha, tv_beta };

// "l1", "l2", "tv", "blur", "tv2", "alpha", "tv_beta".
const char* reg_kind_name(RegKind k);

// ---- shared per-pixel maths (plane of h x w, pixel (y, x)) --------------------------------

template <class T>
CUVIZ_HD T reg_sign(T d) {
  return T(d > T(0)) - T(d < T(0));
}

// The TV terms owned by pixel (y, x): its differences to the right and below.
template <class T>
CUVIZ_HD T tv_value_at(const T* p, int h, int w, int y, int x) {
  const T v = p[int64_t(y) * w + x];
  T s = 0;
  if (y + 1 < h) s += fabs(p[int64_t(y + 1) * w + x] - v);
  if (x + 1 < w) s += fabs(p[int64_t(y) * w + x + 1] - v);
  return s;
}
// d TV / d x[y, x]: pixel (y, x) is the lower end of the differences to its right and below and
// the upper end of those from its left and above.
template <class T>
CUVIZ_HD T tv_grad_at(const T* p, int h, int w, int y, int x) {
  const T v = p[int64_t(y) * w + x];
  T g = 0;
  if (y > 0) g += reg_sign(v - p[int64_t(y - 1) * w + x]);
  if (y + 1 < h) g -= reg_sign(p[int64_t(y + 1) * w + x] - v);
  if (x > 0) g += reg_sign(v - p[int64_t(y) * w + x - 1]);
  if (x + 1 < w) g -= reg_sign(p[int64_t(y) * w + x + 1] - v);
  return g;
}
// The squared TV terms owned by pixel (y, x) (halved), and their gradient.
template <class T>
CUVIZ_HD T tv2_value_at(const T* p, int h, int w, int y, int x) {
  const T v = p[int64_t(y) * w + x];
  T s = 0;
  if (y + 1 < h) s += (p[int64_t(y + 1) * w + x] - v) * (p[int64_t(y + 1) * w + x] - v);
  if (x + 1 < w) s += (p[int64_t(y) * w + x + 1] - v) * (p[int64_t(y) * w + x + 1] - v);
  return T(0.5) * s;
}
template <class T>
CUVIZ_HD T tv2_grad_at(const T* p, int h, int w, int y, int x) {
  const T v = p[int64_t(y) * w + x];
  T g = 0;
  if (y > 0) g += v - p[int64_t(y - 1) * w + x];
  if (y + 1 < h) g += v - p[int64_t(y + 1) * w + x];
  if (x > 0) g += v - p[int64_t(y) * w + x - 1];
  if (x + 1 < w) g += v - p[int64_t(y) * w + x + 1];
  return g;
}
// Lucid's _tf_blur at one pixel: conv(x, k) / conv(1, k) with k = [1 2 1]^T [1 2 1], SAME padding.
template <class T>
CUVIZ_HD T blur_at(const T* p, int h, int w, int y, int x) {
  T s = 0, n = 0;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) {
      const int yy = y + dy, xx = x + dx;
      if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
      const T k = T((2 - (dy < 0 ? -dy : dy)) * (2 - (dx < 0 ? -dx : dx)));
      s += k * p[int64_t(yy) * w + xx];
      n += k;
    }
  return s / n;
}
// TV^beta: S(y, x), from the pixel's differences to the right and below.
template <class T>
CUVIZ_HD T tvb_s_at(const T* p, int h, int w, int y, int x) {
  const T v = p[int64_t(y) * w + x];
  const T dx = x + 1 < w ? p[int64_t(y) * w + x + 1] - v : T(0);
  const T dy = y + 1 < h ? p[int64_t(y + 1) * w + x] - v : T(0);
  return dx * dx + dy * dy;
}
// f(S) = d S^(p/2) / dS * 2 = p S^(p/2 - 1), 0 at S = 0.
template <class T>
CUVIZ_HD T tvb_factor(T s, T power) {
  return s > T(0) ? power * pow(s, power / T(2) - T(1)) : T(0);
}
// d TV^beta / d x[y, x]: its own term -f(S) (dx + dy), plus f(S) times its difference to the left
// neighbour's and upper neighbour's pixel for the terms those own.
template <class T>
CUVIZ_HD T tvb_grad_at(const T* p, int h, int w, int y, int x, T power) {
  const T v = p[int64_t(y) * w + x];
  const T dx = x + 1 < w ? p[int64_t(y) * w + x + 1] - v : T(0);
  const T dy = y + 1 < h ? p[int64_t(y + 1) * w + x] - v : T(0);
  T g = -tvb_factor(dx * dx + dy * dy, power) * (dx + dy);
  if (x > 0) g += tvb_factor(tvb_s_at(p, h, w, y, x - 1), power) * (v - p[int64_t(y) * w + x - 1]);
  if (y > 0) g += tvb_factor(tvb_s_at(p, h, w, y - 1, x), power) * (v - p[int64_t(y - 1) * w + x]);
  return g;
}
// The summand of R at one pixel for l1 / l2 (squared, before the root) / tv / blur / alpha /
// tv_beta (power: their exponent p; unused by the others).
template <class T>
CUVIZ_HD T reg_value_at(RegKind kind, const T* p, int h, int w, int y, int x, T constant, T power = T(0)) {
  const T v = p[int64_t(y) * w + x];
  switch (kind) {
    case RegKind::l1: return fabs(v - constant);
    case RegKind::l2: return (v - constant) * (v - constant);
    case RegKind::tv: return tv_value_at(p, h, w, y, x);
    case RegKind::alpha: return pow(fabs(v - constant), power);
    case RegKind::tv_beta: return pow(tvb_s_at(p, h, w, y, x), power / T(2));
    case RegKind::tv2: return tv2_value_at(p, h, w, y, x);
    default: {
      const T d = v - blur_at(p, h, w, y, x);
      return T(0.5) * d * d;
    }
  }
}
// dR/dx at one pixel; `r` is the image's R (only l2 needs it).
template <class T>
CUVIZ_HD T reg_grad_at(RegKind kind, const T* p, int h, int w, int y, int x, T constant, T r, T power = T(0)) {
  const T v = p[int64_t(y) * w + x];
  switch (kind) {
    case RegKind::l1: return reg_sign(v - constant);
    case RegKind::l2: return (v - constant) / r;
    case RegKind::tv: return tv_grad_at(p, h, w, y, x);
    case RegKind::alpha: return power * pow(fabs(v - constant), power - T(1)) * reg_sign(v - constant);
    case RegKind::tv_beta: return tvb_grad_at(p, h, w, y, x, power);
    case RegKind::tv2: return tv2_grad_at(p, h, w, y, x);
    default: return v - blur_at(p, h, w, y, x);
  }
}
// R from the per-image sum of reg_value_at (l2 takes the root).
template <class T>
CUVIZ_HD T reg_finish(RegKind kind, T sum) {
  return kind == RegKind::l2 ? sqrt(T(1e-6) + sum) : sum;
}

// values[n] = R(image[n]) (values: {N, 1, 1, 1}); when dimage is defined, also
// dimage += weight * dR/dimage. Planes are the C channels of each image. `power`: the exponent p
// of alpha and tv_beta (>= 1; ignored by the others). Any device.
void regularizer_forward_backward(RegKind kind, float constant, const Tensor& image, const Tensor& values, float weight,
                                  const Tensor& dimage, float power = 0.f);

// CPU version for float and double (the reference for the finite-difference tests).
template <class T>
void regularizer_forward_backward_cpu(RegKind kind, T constant, const BasicTensor<T>& image,
                                      const BasicTensor<T>& values, T weight, const BasicTensor<T>& dimage,
                                      T power = T(0));

}  // namespace cuviz
