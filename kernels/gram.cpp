// Gram matrices and the style loss (kernels/gram.h) on the CPU: plain-loop references in T, a
// fast path of one SGEMM per image (G = F F^T / D; dF += (2 s w / D) (R + R^T) F, R = G - T), and the dispatch
// to CUDA by the tensors' device.
#include "kernels/gram.h"

#include <cmath>

#include "core/check.h"
#include "kernels/cuda_ops.h"
#include "kernels/gemm.h"

namespace cuviz {

const char* gram_norm_name(GramNorm n) { return n == GramNorm::chw ? "chw" : "gatys"; }

double gram_divisor(GramNorm n, int c, int h, int w) { return n == GramNorm::chw ? double(c) * h * w : 1.0; }

double style_loss_scale(GramNorm n, int c, int h, int w) {
  const double m = double(h) * w;
  return n == GramNorm::chw ? 1.0 / (double(c) * c) : 1.0 / (4.0 * double(c) * c * m * m);
}

namespace {

template <class T>
void check_gram(const char* op, const BasicTensor<T>& f, const BasicTensor<T>& g) {
  check_nonempty(op, "features", f);
  check_shape(op, "gram", g, Shape{f.n(), f.c(), f.c(), 1});
  CUVIZ_CHECK(g.batch_stride() == int64_t(f.c()) * f.c(), op, ": the Gram matrices must be dense");
}

template <class T>
void check_target(const char* op, const BasicTensor<T>& f, const BasicTensor<T>& target) {
  check_shape(op, "target", target, Shape{1, f.c(), f.c(), 1});
}

}  // namespace

// ---- references --------------------------------------------------------------------------------

template <class T>
void gram_forward_reference(GramNorm n, const BasicTensor<T>& f, const BasicTensor<T>& g) {
  check_gram("gram_forward_reference", f, g);
  const int C = f.c();
  const int64_t M = int64_t(f.h()) * f.w();
  const T inv = T(1.0 / gram_divisor(n, C, f.h(), f.w()));
  for (int i = 0; i < f.n(); ++i)
    for (int a = 0; a < C; ++a)
      for (int b = 0; b < C; ++b) {
        T s = 0;
        for (int64_t k = 0; k < M; ++k) s += f.image(i)[a * M + k] * f.image(i)[b * M + k];
        g.image(i)[a * C + b] = s * inv;
      }
}

template <class T>
void gram_backward_reference(GramNorm n, const BasicTensor<T>& f, const BasicTensor<T>& dg, const BasicTensor<T>& df) {
  check_gram("gram_backward_reference", f, dg);
  check_shape("gram_backward_reference", "df", df, f.shape());
  const int C = f.c();
  const int64_t M = int64_t(f.h()) * f.w();
  const T inv = T(1.0 / gram_divisor(n, C, f.h(), f.w()));
  for (int i = 0; i < f.n(); ++i)
    for (int a = 0; a < C; ++a)
      for (int64_t k = 0; k < M; ++k) {
        T s = 0;
        for (int b = 0; b < C; ++b) s += (dg.image(i)[a * C + b] + dg.image(i)[b * C + a]) * f.image(i)[b * M + k];
        df.image(i)[a * M + k] = s * inv;
      }
}

template <class T>
void style_loss_reference(GramNorm n, const BasicTensor<T>& f, const BasicTensor<T>& target, T* loss,
                          const BasicTensor<T>& df) {
  check_target("style_loss_reference", f, target);
  const int C = f.c();
  BasicOwnedTensor<T> g(Shape{f.n(), C, C, 1}), dg(g.shape());
  gram_forward_reference(n, f, BasicTensor<T>(g));
  const T s = T(style_loss_scale(n, C, f.h(), f.w()));
  for (int i = 0; i < f.n(); ++i) {
    T e = 0;
    for (int64_t k = 0; k < int64_t(C) * C; ++k) {
      const T d = g.image(i)[k] - target.data()[k];
      e += d * d;
      dg.image(i)[k] = T(2) * s * d;  // dE/dG
    }
    loss[i] = s * e;
  }
  if (df.defined()) gram_backward_reference(n, f, BasicTensor<T>(dg), df);
}

template void gram_forward_reference(GramNorm, const BasicTensor<float>&, const BasicTensor<float>&);
template void gram_forward_reference(GramNorm, const BasicTensor<double>&, const BasicTensor<double>&);
template void gram_backward_reference(GramNorm, const BasicTensor<float>&, const BasicTensor<float>&,
                                      const BasicTensor<float>&);
template void gram_backward_reference(GramNorm, const BasicTensor<double>&, const BasicTensor<double>&,
                                      const BasicTensor<double>&);
template void style_loss_reference(GramNorm, const BasicTensor<float>&, const BasicTensor<float>&, float*,
                                   const BasicTensor<float>&);
template void style_loss_reference(GramNorm, const BasicTensor<double>&, const BasicTensor<double>&, double*,
                                   const BasicTensor<double>&);

// ---- fast CPU path and dispatch ------------------------------------------------------------------

namespace {

int pixels_of(const char* op, const Tensor& f) {
  const int64_t m = int64_t(f.h()) * f.w();
  CUVIZ_CHECK(m < (int64_t(1) << 31), op, ": ", m, " pixels exceed the 32-bit index");
  return int(m);
}

}  // namespace

void gram_forward(GramNorm n, const Tensor& f, const Tensor& g) {
  check_gram("gram_forward", f, g);
  CUVIZ_CHECK(f.device() == g.device(), "gram_forward: features and Gram on different devices");
  const int M = pixels_of("gram_forward", f);
  if (f.device() == Device::cuda) return gram_forward_cuda(n, f, g);
  const SerialBlas serial;
  const int C = f.c();
  const float inv = float(1.0 / gram_divisor(n, C, f.h(), f.w()));
  for (int i = 0; i < f.n(); ++i) sgemm(false, true, C, C, M, inv, f.image(i), M, f.image(i), M, 0.f, g.image(i), C);
}

void gram_backward(GramNorm n, const Tensor& f, const Tensor& dg, const Tensor& df) {
  check_gram("gram_backward", f, dg);
  check_shape("gram_backward", "df", df, f.shape());
  CUVIZ_CHECK(f.device() == dg.device() && f.device() == df.device(), "gram_backward: tensors on different devices");
  const int M = pixels_of("gram_backward", f);
  if (f.device() == Device::cuda) return gram_backward_cuda(n, f, dg, df);
  const SerialBlas serial;
  const int C = f.c();
  const float inv = float(1.0 / gram_divisor(n, C, f.h(), f.w()));
  // (dG + dG^T) F = dG F + dG^T F: two GEMMs into the same output.
  for (int i = 0; i < f.n(); ++i) {
    sgemm(false, false, C, M, C, inv, dg.image(i), C, f.image(i), M, 0.f, df.image(i), M);
    sgemm(true, false, C, M, C, inv, dg.image(i), C, f.image(i), M, 1.f, df.image(i), M);
  }
}

void style_loss_forward(GramNorm n, const Tensor& f, const Tensor& target, const Tensor& gram, float* values,
                        const int* slots) {
  check_target("style_loss_forward", f, target);
  gram_forward(n, f, gram);
  CUVIZ_CHECK(target.device() == f.device(), "style_loss_forward: target and features on different devices");
  const int C = f.c();
  const double s = style_loss_scale(n, C, f.h(), f.w());
  if (f.device() == Device::cuda) return style_loss_values_cuda(gram, target, float(s), values, slots);
  for (int i = 0; i < f.n(); ++i) {
    double e = 0;
    for (int64_t k = 0; k < int64_t(C) * C; ++k) {
      const double d = double(gram.image(i)[k]) - target.data()[k];
      e += d * d;
    }
    values[slots ? slots[i] : i] = float(s * e);
  }
}

void style_loss_backward(GramNorm n, const Tensor& f, const Tensor& gram, const Tensor& target, const float* weights,
                         const int* slots, const Tensor& df, const Tensor& scratch) {
  check_target("style_loss_backward", f, target);
  check_gram("style_loss_backward", f, gram);
  check_shape("style_loss_backward", "df", df, f.shape());
  const int C = f.c();
  const int M = pixels_of("style_loss_backward", f);
  const double s = style_loss_scale(n, C, f.h(), f.w());
  const double d_inv = 1.0 / gram_divisor(n, C, f.h(), f.w());
  if (f.device() == Device::cuda) return style_loss_backward_cuda(f, gram, target, float(2 * s * d_inv), weights, slots, df);
  check_shape("style_loss_backward", "scratch", scratch, gram.shape());
  const SerialBlas serial;
  for (int i = 0; i < f.n(); ++i) {
    const float w = weights[slots ? slots[i] : i];
    if (w == 0.f) continue;
    // (dE/dG + dE/dG^T) F / D with dE/dG = 2 s (G - T): (2 s / D) (R + R^T) F, R = G - T (R is
    // symmetric when T is a Gram matrix, 4 s R F / D; the sum keeps any target exact).
    float* d = scratch.image(i);
    const float* g = gram.image(i);
    const float* t = target.data();
    for (int a = 0; a < C; ++a)
      for (int b = 0; b < C; ++b) d[a * C + b] = (g[a * C + b] - t[a * C + b]) + (g[b * C + a] - t[b * C + a]);
    sgemm(false, false, C, M, C, float(2 * s * d_inv) * w, d, C, f.image(i), M, 1.f, df.image(i), M);
  }
}

}  // namespace cuviz
