// Shared test helpers: seeded random tensors, element-wise comparison that prints the first
// mismatches (llm.c style: |a - b| <= atol + rtol * |b|), a double-precision central-difference
// gradient check, and the GPU-skip guard.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "core/error.h"
#include "core/tensor.h"

namespace cuviz::test {

// Fills t with uniform values in [lo, hi) from a fixed seed.
template <class T>
void fill_uniform(const BasicTensor<T>& t, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int i = 0; i < t.n(); ++i)
    for (int64_t k = 0; k < t.shape().image_size(); ++k) t.image(i)[k] = T(u(rng));
}

// A double copy of a float tensor (dense) and back.
inline OwnedTensorD to_double(const Tensor& t) {
  OwnedTensorD d(t.shape());
  for (int i = 0; i < t.n(); ++i)
    for (int64_t k = 0; k < t.shape().image_size(); ++k) d.image(i)[k] = t.image(i)[k];
  return d;
}
inline OwnedTensor to_float(const TensorD& t) {
  OwnedTensor f(t.shape());
  for (int i = 0; i < t.n(); ++i)
    for (int64_t k = 0; k < t.shape().image_size(); ++k) f.image(i)[k] = float(t.image(i)[k]);
  return f;
}

// Compares every element; on failure reports the count, the max error and the first mismatches.
template <class A, class B>
::testing::AssertionResult all_close(const BasicTensor<A>& got, const BasicTensor<B>& want, double atol,
                                     double rtol = 0.0) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape().str() << " vs " << want.shape().str();
  int64_t bad = 0;
  double max_err = 0;
  std::string first;
  for (int n = 0; n < got.n(); ++n)
    for (int c = 0; c < got.c(); ++c)
      for (int h = 0; h < got.h(); ++h)
        for (int w = 0; w < got.w(); ++w) {
          const double g = got.at(n, c, h, w), e = want.at(n, c, h, w);
          const double err = std::abs(g - e);
          if (!std::isfinite(g) && g != e) {
            ++bad;
            max_err = INFINITY;
          } else if (std::isfinite(err)) {
            max_err = std::max(max_err, err);
          }
          if (!(err <= atol + rtol * std::abs(e)) && !(g == e)) {
            if (bad < 5) first += cat("\n  at [", n, ",", c, ",", h, ",", w, "] got ", g, " want ", e);
            ++bad;
          }
        }
  if (bad == 0) return ::testing::AssertionSuccess() << "max abs error " << max_err;
  return ::testing::AssertionFailure() << bad << " of " << got.numel() << " elements differ (atol " << atol
                                       << ", rtol " << rtol << ", max abs error " << max_err << ")" << first;
}

// Central-difference gradient check in double precision.
//   loss(x) -> scalar, computed with the double reference forward;
//   analytic = dloss/dx from the backward under test (same shape as x).
// Checks `samples` evenly spread elements (all when samples <= 0). `skip(k)` may reject points
// where the function has a kink (ReLU at 0, max-pool ties) within eps, where differences are
// meaningless. Tolerance: |fd - analytic| <= atol + rtol * |fd|.
inline ::testing::AssertionResult gradient_check(const TensorD& x, const std::function<double()>& loss,
                                                 const TensorD& analytic, int samples = 64, double eps = 1e-6,
                                                 double atol = 1e-7, double rtol = 1e-5,
                                                 const std::function<bool(int64_t)>& skip = nullptr) {
  if (!x.contiguous() || !analytic.contiguous() || x.numel() != analytic.numel())
    return ::testing::AssertionFailure() << "gradient_check needs dense x and gradient of equal size";
  const int64_t n = x.numel();
  const int64_t step = samples <= 0 ? 1 : std::max<int64_t>(1, n / samples);
  int checked = 0, bad = 0;
  std::string first;
  for (int64_t k = (step > 1 ? step / 2 : 0); k < n; k += step) {
    if (skip && skip(k)) continue;
    const double saved = x.data()[k];
    x.data()[k] = saved + eps;
    const double lp = loss();
    x.data()[k] = saved - eps;
    const double lm = loss();
    x.data()[k] = saved;
    const double fd = (lp - lm) / (2 * eps);
    const double an = analytic.data()[k];
    ++checked;
    if (!(std::abs(fd - an) <= atol + rtol * std::abs(fd))) {
      if (bad < 5) first += cat("\n  element ", k, ": finite difference ", fd, ", backward ", an);
      ++bad;
    }
  }
  if (checked == 0) return ::testing::AssertionFailure() << "gradient_check: no point checked";
  if (bad == 0) return ::testing::AssertionSuccess() << checked << " points agree";
  return ::testing::AssertionFailure() << bad << " of " << checked << " points disagree" << first;
}

// sum_k w_k * y_k with fixed pseudo-random weights: a scalar loss whose gradient seed dy = w
// exercises every output element with a different weight.
inline double weighted_sum(const TensorD& y, const TensorD& w) {
  double s = 0;
  for (int i = 0; i < y.n(); ++i)
    for (int64_t k = 0; k < y.shape().image_size(); ++k) s += y.image(i)[k] * w.image(i)[k];
  return s;
}

// The message of the cuviz::Error that f throws, or "(no error)" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace cuviz::test

// First statement of every GPU test: skips with a message when no CUDA device can be used.
#define CUVIZ_REQUIRE_GPU()                                                                   \
  do {                                                                                        \
    if (!::cuviz::cuda_available()) GTEST_SKIP() << "no CUDA device (or no driver): GPU test skipped"; \
  } while (0)
