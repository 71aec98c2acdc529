// Helpers of the GPU tests (ggml's test-backend-ops style): device copies of host tensors,
// guarded outputs (a sentinel-filled buffer around a NaN-filled, batch-strided output view, so
// out-of-bounds writes and unwritten elements are both caught) and a comparison that reports
// the normalised error ||got - want|| / ||want|| and the max error after a NaN/Inf check.
#pragma once

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/cuda_runtime.h"
#include "test_util.h"

namespace cuviz::test {

// A dense device copy of a host tensor.
inline OwnedTensor to_device(const Tensor& host) {
  OwnedTensor d(host.shape(), Device::cuda);
  copy(host, d);
  return d;
}

// A dense host copy of a device tensor (copy() waits for the device).
inline OwnedTensor to_host(const Tensor& dev) {
  OwnedTensor h(dev.shape());
  copy(dev, h);
  return h;
}

// A random host tensor of `shape`, values uniform in [lo, hi).
inline OwnedTensor random_tensor(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  OwnedTensor t(shape);
  fill_uniform<float>(t, seed, lo, hi);
  return t;
}

// A device view of `shape` whose images sit `extra_channels` channel planes apart (a channel
// slice of a wider tensor, as inside a concat), inside a buffer with `margin` floats before and
// after. Everything but the view holds kSentinel; the view starts as NaN.
class GuardedOutput {
 public:
  static constexpr float kSentinel = -12345.5f;

  explicit GuardedOutput(Shape shape, int extra_channels = 0, int64_t margin = 4096)
      : shape_(shape), stride_(int64_t(shape.c + extra_channels) * shape.h * shape.w), margin_(margin) {
    total_ = 2 * margin_ + stride_ * shape.n;
    buffer_ = Buffer(size_t(total_) * sizeof(float), Device::cuda);
    cuda_rt::fill(base(), total_, kSentinel);
    fill(view(), NAN);
  }

  Tensor view() const { return Tensor(base() + margin_, shape_, stride_, Device::cuda); }

  // Margins and the gaps between images untouched; every element of the view written and finite.
  ::testing::AssertionResult guards_intact() const {
    std::vector<float> all(static_cast<size_t>(total_));
    cuda_rt::memcpy(all.data(), false, base(), true, all.size() * sizeof(float));
    const int64_t image = shape_.image_size();
    int64_t clobbered = 0, unwritten = 0, first_clobbered = -1;
    for (int64_t k = 0; k < total_; ++k) {
      const int64_t rel = k - margin_;
      const bool inside = rel >= 0 && rel < stride_ * shape_.n && rel % stride_ < image;
      if (inside) {
        if (!std::isfinite(all[size_t(k)])) ++unwritten;
      } else if (all[size_t(k)] != kSentinel) {
        if (first_clobbered < 0) first_clobbered = rel;
        ++clobbered;
      }
    }
    if (clobbered == 0 && unwritten == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << clobbered << " guard floats overwritten (first at offset "
                                         << first_clobbered << " from the view), " << unwritten
                                         << " output elements NaN/Inf or never written, in " << shape_.str();
  }

 private:
  float* base() const { return static_cast<float*>(buffer_.data()); }
  Shape shape_;
  int64_t stride_, margin_, total_ = 0;
  Buffer buffer_;
};

// Compares a GPU result (host copy) with a reference: no NaN/Inf, normalised error
// ||got - want||_2 / ||want||_2 <= nrmse_tol, and every element within atol + rtol |want|.
// Prints both errors (the report of the run) under `label`.
template <class T>
::testing::AssertionResult gpu_matches(const char* label, const Tensor& got, const BasicTensor<T>& want,
                                       double nrmse_tol, double atol, double rtol = 0.0) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << label << ": shape " << got.shape().str() << " vs " << want.shape().str();
  double num = 0, den = 0, max_err = 0;
  int64_t non_finite = 0;
  for (int n = 0; n < got.n(); ++n)
    for (int c = 0; c < got.c(); ++c)
      for (int h = 0; h < got.h(); ++h)
        for (int w = 0; w < got.w(); ++w) {
          const double g = got.at(n, c, h, w), e = double(want.at(n, c, h, w));
          if (!std::isfinite(g)) {
            ++non_finite;
            continue;
          }
          num += (g - e) * (g - e);
          den += e * e;
          max_err = std::max(max_err, std::abs(g - e));
        }
  const double nrmse = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  std::printf("  [%s] normalised error %.3e, max abs error %.3e over %lld elements\n", label, nrmse, max_err,
              static_cast<long long>(got.numel()));
  if (non_finite) return ::testing::AssertionFailure() << label << ": " << non_finite << " NaN/Inf outputs";
  if (!(nrmse <= nrmse_tol))
    return ::testing::AssertionFailure() << label << ": normalised error " << nrmse << " > " << nrmse_tol;
  auto close = all_close(got, want, atol, rtol);
  if (!close) return ::testing::AssertionFailure() << label << ": " << close.message();
  return ::testing::AssertionSuccess();
}

}  // namespace cuviz::test
