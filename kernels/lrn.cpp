// Local response normalization across channels on the CPU (fast path + plain reference) and the
// dispatch to CUDA:  s[c] = k + alpha/size * sum_{c' in window(c)} x[c']^2,  y[c] = x[c] s[c]^-beta,
// window(c) = [c - (size-1)/2, c + size/2]. Derivation: docs/backprop/pool_lrn_softmax_bn.md#lrn.
#include "kernels/lrn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <immintrin.h>

#include "core/check.h"
#include "kernels/backend.h"
#include "kernels/cuda_ops.h"
#include "kernels/cudnn_oracle.h"

namespace cuviz {

namespace {

void check_params(const char* op, const LrnParams& p) {
  CUVIZ_CHECK(p.size >= 1, op, ": size ", p.size, " must be >= 1");
  // k > 0 and alpha >= 0 keep s > 0, so s^-beta is finite for every input.
  CUVIZ_CHECK(p.k > 0.f && p.alpha >= 0.f, op, ": needs k > 0 and alpha >= 0 (k ", p.k, ", alpha ", p.alpha, ")");
}

template <class T>
void check_forward(const char* op, const LrnParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_params(op, p);
  check_nonempty(op, "x", x);
  check_shape(op, "y", y, x.shape());
}

template <class T>
void check_backward(const char* op, const LrnParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y,
                    const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  check_forward(op, p, x, y);
  check_shape(op, "dy", dy, x.shape());
  check_shape(op, "dx", dx, x.shape());
}

// s[c] at (n, h, w), summed in increasing channel order (the fast path uses the same order).
template <class T>
T lrn_scale(const LrnParams& p, const BasicTensor<T>& x, int n, int c, int h, int w) {
  T acc = 0;
  for (int cc = std::max(0, c - (p.size - 1) / 2); cc <= std::min(x.c() - 1, c + p.size / 2); ++cc)
    acc += x.at(n, cc, h, w) * x.at(n, cc, h, w);
  return T(p.k) + T(p.alpha) / T(p.size) * acc;
}

// Pixels per tile of the fast path: the scales of one tile for all channels stay in cache.
constexpr int kTile = 64;

// s for channels [0, C) of pixels [j0, j0 + len) of one image, into s[c * kTile + j].
// Compiled twice, for x86-64-v3 (AVX2 + FMA) and for the -march of the build, and chosen at load
// time (an ifunc): the sums of squares run 8 wide on AVX2 CPUs whatever CUVIZ_CPU_ARCH says.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void tile_scales(const LrnParams& p, const float* x, int C, int64_t HW, int len, float* s) {
  const int before = (p.size - 1) / 2, after = p.size / 2;
  const float coef = p.alpha / float(p.size);
  for (int c = 0; c < C; ++c) {
    float* sc = s + int64_t(c) * kTile;
    std::fill(sc, sc + len, 0.f);
    for (int cc = std::max(0, c - before); cc <= std::min(C - 1, c + after); ++cc) {
      const float* xc = x + cc * HW;
      for (int j = 0; j < len; ++j) sc[j] += xc[j] * xc[j];
    }
    for (int j = 0; j < len; ++j) sc[j] = p.k + coef * sc[j];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// s^-0.75 eight at a time with AVX, for the whole multiple of 8 at the front of s; returns how
// many it did. Compiled for AVX whatever -march the file gets (CUVIZ_CPU_ARCH) and called only
// where the CPU has it: a portable build keeps this loop's speed (3x the scalar one) on AVX CPUs.
__attribute__((target("avx"))) int pow_neg_075_avx(float* s, int len) {
  int j = 0;
  for (; j + 8 <= len; j += 8) {
    const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.f), _mm256_sqrt_ps(_mm256_loadu_ps(s + j)));
    _mm256_storeu_ps(s + j, _mm256_mul_ps(r, _mm256_sqrt_ps(r)));
  }
  return j;
}

bool cpu_has_avx() {
  static const bool has = __builtin_cpu_supports("avx");
  return has;
}
#endif

// s^-beta for len values, in place. beta = 0.75 (AlexNet, GoogLeNet) is 1/sqrt(s) * sqrt(1/sqrt(s)):
// three correctly rounded operations, AVX-vectorised, instead of one scalar powf per element
// (the same three operations in the AVX and the scalar loop: the same bits either way).
void pow_neg_beta(float beta, float* s, int len) {
  int j = 0;
  if (beta == 0.75f) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_has_avx()) j = pow_neg_075_avx(s, len);
#endif
    for (; j < len; ++j) {
      const float r = 1.f / std::sqrt(s[j]);
      s[j] = r * std::sqrt(r);
    }
    return;
  }
  for (; j < len; ++j) s[j] = std::pow(s[j], -beta);
}

}  // namespace

template <class T>
void lrn_forward_reference(const LrnParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_forward("lrn_forward", p, x, y);
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c)
      for (int h = 0; h < x.h(); ++h)
        for (int w = 0; w < x.w(); ++w)
          y.at(n, c, h, w) = x.at(n, c, h, w) * std::pow(lrn_scale(p, x, n, c, h, w), -T(p.beta));
}

template <class T>
void lrn_backward_data_reference(const LrnParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y,
                                 const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  check_backward("lrn_backward_data", p, x, y, dy, dx);
  const T coef = T(2) * T(p.alpha) * T(p.beta) / T(p.size);
  for (int n = 0; n < x.n(); ++n)
    for (int h = 0; h < x.h(); ++h)
      for (int w = 0; w < x.w(); ++w) {
        // All of this pixel's inputs are read before any dx is written (dx may alias dy or x).
        std::vector<T> s(x.c()), r(x.c()), xs(x.c()), dys(x.c());
        for (int c = 0; c < x.c(); ++c) {
          s[c] = lrn_scale(p, x, n, c, h, w);
          r[c] = dy.at(n, c, h, w) * y.at(n, c, h, w) / s[c];
          xs[c] = x.at(n, c, h, w);
          dys[c] = dy.at(n, c, h, w);
        }
        for (int c = 0; c < x.c(); ++c) {
          // c lies in window(c') exactly for c' in [c - size/2, c + (size-1)/2].
          T acc = 0;
          for (int cc = std::max(0, c - p.size / 2); cc <= std::min(x.c() - 1, c + (p.size - 1) / 2); ++cc)
            acc += r[cc];
          dx.at(n, c, h, w) = dys[c] * std::pow(s[c], -T(p.beta)) - coef * xs[c] * acc;
        }
      }
}

template void lrn_forward_reference<float>(const LrnParams&, const Tensor&, const Tensor&);
template void lrn_forward_reference<double>(const LrnParams&, const TensorD&, const TensorD&);
template void lrn_backward_data_reference<float>(const LrnParams&, const Tensor&, const Tensor&, const Tensor&,
                                                 const Tensor&);
template void lrn_backward_data_reference<double>(const LrnParams&, const TensorD&, const TensorD&, const TensorD&,
                                                  const TensorD&);

// Fast path: tiles of kTile pixels x all channels run in parallel; each tile computes its
// scales into a per-thread scratch before writing, so y may be x (in place).
void lrn_forward(const LrnParams& p, const Tensor& x, const Tensor& y) {
  check_forward("lrn_forward", p, x, y);
  if (check_same_device<float>("lrn_forward", {&x, &y}) == Device::cuda)
    return use_oracle(Device::cuda, cudnn_expresses(p)) ? cudnn_lrn_forward(p, x, y) : lrn_forward_cuda(p, x, y);
  const int C = x.c();
  const int64_t HW = int64_t(x.h()) * x.w();
  const int64_t tiles = (HW + kTile - 1) / kTile;
#pragma omp parallel if (x.numel() > 16384)
  {
    std::vector<float> s(size_t(C) * kTile);
#pragma omp for collapse(2) schedule(static)
    for (int n = 0; n < x.n(); ++n)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t j0 = t * kTile;
        const int len = int(std::min<int64_t>(kTile, HW - j0));
        const float* xi = x.image(n) + j0;
        float* yi = y.image(n) + j0;
        tile_scales(p, xi, C, HW, len, s.data());
        for (int c = 0; c < C; ++c) {
          float* sc = s.data() + int64_t(c) * kTile;
          pow_neg_beta(p.beta, sc, len);
          for (int j = 0; j < len; ++j) yi[c * HW + j] = xi[c * HW + j] * sc[j];
        }
      }
  }
}

void lrn_backward_data(const LrnParams& p, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_backward("lrn_backward_data", p, x, y, dy, dx);
  if (check_same_device<float>("lrn_backward_data", {&x, &y, &dy, &dx}) == Device::cuda)
    return lrn_backward_data_cuda(p, x, y, dy, dx);
  const int C = x.c();
  const int64_t HW = int64_t(x.h()) * x.w();
  const int64_t tiles = (HW + kTile - 1) / kTile;
  const float coef = 2.f * p.alpha * p.beta / float(p.size);
#pragma omp parallel if (x.numel() > 16384)
  {
    std::vector<float> s(size_t(C) * kTile), r(size_t(C) * kTile), acc(kTile);
#pragma omp for collapse(2) schedule(static)
    for (int n = 0; n < x.n(); ++n)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t j0 = t * kTile;
        const int len = int(std::min<int64_t>(kTile, HW - j0));
        const float* xi = x.image(n) + j0;
        const float* yi = y.image(n) + j0;
        const float* dyi = dy.image(n) + j0;
        float* dxi = dx.image(n) + j0;
        tile_scales(p, xi, C, HW, len, s.data());
        for (int c = 0; c < C; ++c) {
          float* sc = s.data() + int64_t(c) * kTile;
          for (int j = 0; j < len; ++j) r[c * kTile + j] = dyi[c * HW + j] * yi[c * HW + j] / sc[j];
          pow_neg_beta(p.beta, sc, len);  // from here on s holds s^-beta
        }
        // Each channel's dx reads x and dy at its own position only, after all s and r exist.
        for (int c = 0; c < C; ++c) {
          std::fill(acc.begin(), acc.begin() + len, 0.f);
          for (int cc = std::max(0, c - p.size / 2); cc <= std::min(C - 1, c + (p.size - 1) / 2); ++cc)
            for (int j = 0; j < len; ++j) acc[j] += r[cc * kTile + j];
          for (int j = 0; j < len; ++j)
            dxi[c * HW + j] = dyi[c * HW + j] * s[c * kTile + j] - coef * xi[c * HW + j] * acc[j];
        }
      }
  }
}

}  // namespace cuviz
