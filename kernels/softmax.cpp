// Softmax and log-softmax over channels at every (n, h, w) on the CPU (fast path + plain
// reference) and the dispatch to CUDA:  y_c = exp(x_c - m) / sum exp(x_c' - m),  m = max_c x_c.
// Derivation of the backward: docs/backprop/pool_lrn_softmax_bn.md#softmax.
#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "kernels/backend.h"
#include "kernels/cuda_ops.h"
#include "kernels/cudnn_oracle.h"

namespace cuviz {

namespace {

template <class T>
void check_pair(const char* op, const BasicTensor<T>& a, const BasicTensor<T>& b, const char* b_name) {
  check_nonempty(op, "input", a);
  check_shape(op, b_name, b, a.shape());
}

template <class T>
void check_backward(const char* op, const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  check_pair(op, y, dy, "dy");
  check_shape(op, "dx", dx, y.shape());
}

// The plain references: one pixel at a time, every channel sum in increasing channel order.
template <class T>
void softmax_pixelwise(const BasicTensor<T>& x, const BasicTensor<T>& y, bool log) {
  for (int n = 0; n < x.n(); ++n)
    for (int h = 0; h < x.h(); ++h)
      for (int w = 0; w < x.w(); ++w) {
        T m = x.at(n, 0, h, w);
        for (int c = 1; c < x.c(); ++c) m = std::max(m, x.at(n, c, h, w));
        T sum = 0;
        for (int c = 0; c < x.c(); ++c) sum += std::exp(x.at(n, c, h, w) - m);
        for (int c = 0; c < x.c(); ++c)
          y.at(n, c, h, w) = log ? x.at(n, c, h, w) - m - std::log(sum) : std::exp(x.at(n, c, h, w) - m) / sum;
      }
}

// Pixels per tile of the fast path (a row of per-pixel maxima and sums stays in L1).
constexpr int kTile = 256;

// Runs body(image n, first pixel j0, pixel count len) over all tiles, in parallel.
template <class F>
void for_each_tile(const Shape& s, F body) {
  const int64_t HW = int64_t(s.h) * s.w;
  const int64_t tiles = (HW + kTile - 1) / kTile;
#pragma omp parallel for collapse(2) schedule(static) if (s.numel() > 32768)
  for (int n = 0; n < s.n; ++n)
    for (int64_t t = 0; t < tiles; ++t) body(n, t * kTile, int(std::min<int64_t>(kTile, HW - t * kTile)));
}

// Fast forward of one tile: channel planes are walked contiguously, per-pixel max and sum kept
// in small arrays. Only x[c] is read before y[c] is written, so y may be x.
void softmax_tile(const float* x, float* y, int C, int64_t HW, int len, bool log) {
  float m[kTile], sum[kTile];
  std::copy(x, x + len, m);
  for (int c = 1; c < C; ++c)
    for (int j = 0; j < len; ++j) m[j] = std::max(m[j], x[c * HW + j]);
  std::fill(sum, sum + len, 0.f);
  for (int c = 0; c < C; ++c)
    for (int j = 0; j < len; ++j) sum[j] += std::exp(x[c * HW + j] - m[j]);
  if (log) {
    // (x - m) - log(sum), not x - (m + log(sum)): for large x the sum m + log(sum) would be
    // rounded to float's coarse step at that magnitude before the subtraction.
    for (int j = 0; j < len; ++j) sum[j] = std::log(sum[j]);
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < len; ++j) y[c * HW + j] = (x[c * HW + j] - m[j]) - sum[j];
  } else {
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < len; ++j) y[c * HW + j] = std::exp(x[c * HW + j] - m[j]) / sum[j];
  }
}

}  // namespace

template <class T>
void softmax_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_pair("softmax_forward", x, y, "y");
  softmax_pixelwise(x, y, false);
}

template <class T>
void log_softmax_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_pair("log_softmax_forward", x, y, "y");
  softmax_pixelwise(x, y, true);
}

template <class T>
void softmax_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  check_backward("softmax_backward_data", y, dy, dx);
  for (int n = 0; n < y.n(); ++n)
    for (int h = 0; h < y.h(); ++h)
      for (int w = 0; w < y.w(); ++w) {
        T dot = 0;
        for (int c = 0; c < y.c(); ++c) dot += dy.at(n, c, h, w) * y.at(n, c, h, w);
        for (int c = 0; c < y.c(); ++c) dx.at(n, c, h, w) = y.at(n, c, h, w) * (dy.at(n, c, h, w) - dot);
      }
}

template <class T>
void log_softmax_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy,
                                         const BasicTensor<T>& dx) {
  check_backward("log_softmax_backward_data", y, dy, dx);
  for (int n = 0; n < y.n(); ++n)
    for (int h = 0; h < y.h(); ++h)
      for (int w = 0; w < y.w(); ++w) {
        T sum = 0;
        for (int c = 0; c < y.c(); ++c) sum += dy.at(n, c, h, w);
        for (int c = 0; c < y.c(); ++c) dx.at(n, c, h, w) = dy.at(n, c, h, w) - std::exp(y.at(n, c, h, w)) * sum;
      }
}

template void softmax_forward_reference<float>(const Tensor&, const Tensor&);
template void softmax_forward_reference<double>(const TensorD&, const TensorD&);
template void log_softmax_forward_reference<float>(const Tensor&, const Tensor&);
template void log_softmax_forward_reference<double>(const TensorD&, const TensorD&);
template void softmax_backward_data_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void softmax_backward_data_reference<double>(const TensorD&, const TensorD&, const TensorD&);
template void log_softmax_backward_data_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void log_softmax_backward_data_reference<double>(const TensorD&, const TensorD&, const TensorD&);

void softmax_forward(const Tensor& x, const Tensor& y) {
  check_pair("softmax_forward", x, y, "y");
  if (check_same_device<float>("softmax_forward", {&x, &y}) == Device::cuda)
    return use_oracle(Device::cuda, true) ? cudnn_softmax_forward(x, y, false) : softmax_forward_cuda(x, y);
  const int64_t HW = int64_t(x.h()) * x.w();
  for_each_tile(x.shape(), [&](int n, int64_t j0, int len) {
    softmax_tile(x.image(n) + j0, y.image(n) + j0, x.c(), HW, len, false);
  });
}

void log_softmax_forward(const Tensor& x, const Tensor& y) {
  check_pair("log_softmax_forward", x, y, "y");
  if (check_same_device<float>("log_softmax_forward", {&x, &y}) == Device::cuda)
    return use_oracle(Device::cuda, true) ? cudnn_softmax_forward(x, y, true) : log_softmax_forward_cuda(x, y);
  const int64_t HW = int64_t(x.h()) * x.w();
  for_each_tile(x.shape(), [&](int n, int64_t j0, int len) {
    softmax_tile(x.image(n) + j0, y.image(n) + j0, x.c(), HW, len, true);
  });
}

// dx = y (dy - <dy, y>); the dot is per pixel, so dx may be dy.
void softmax_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_backward("softmax_backward_data", y, dy, dx);
  if (check_same_device<float>("softmax_backward_data", {&y, &dy, &dx}) == Device::cuda)
    return softmax_backward_data_cuda(y, dy, dx);
  const int C = y.c();
  const int64_t HW = int64_t(y.h()) * y.w();
  for_each_tile(y.shape(), [&](int n, int64_t j0, int len) {
    const float* yi = y.image(n) + j0;
    const float* dyi = dy.image(n) + j0;
    float* dxi = dx.image(n) + j0;
    float dot[kTile] = {};
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < len; ++j) dot[j] += dyi[c * HW + j] * yi[c * HW + j];
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < len; ++j) dxi[c * HW + j] = yi[c * HW + j] * (dyi[c * HW + j] - dot[j]);
  });
}

// dx = dy - exp(y) sum_c dy_c; dx may be dy.
void log_softmax_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_backward("log_softmax_backward_data", y, dy, dx);
  if (check_same_device<float>("log_softmax_backward_data", {&y, &dy, &dx}) == Device::cuda)
    return log_softmax_backward_data_cuda(y, dy, dx);
  const int C = y.c();
  const int64_t HW = int64_t(y.h()) * y.w();
  for_each_tile(y.shape(), [&](int n, int64_t j0, int len) {
    const float* yi = y.image(n) + j0;
    const float* dyi = dy.image(n) + j0;
    float* dxi = dx.image(n) + j0;
    float sum[kTile] = {};
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < len; ++j) sum[j] += dyi[c * HW + j];
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < len; ++j) dxi[c * HW + j] = dyi[c * HW + j] - std::exp(yi[c * HW + j]) * sum[j];
  });
}

}  // namespace cuviz
