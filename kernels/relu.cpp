// ReLU on the CPU, and the dispatch to CUDA by the tensors' device.
#include "kernels/relu.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/check.h"
#include "kernels/elementwise.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

template <class T>
void relu_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_shape("relu_forward", "y", y, x.shape());
  const int64_t m = x.shape().image_size();
  for (int i = 0; i < x.n(); ++i)
    for (int64_t k = 0; k < m; ++k) y.image(i)[k] = x.image(i)[k] > T(0) ? x.image(i)[k] : T(0);
}

template <class T>
void relu_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  check_shape("relu_backward_data", "dy", dy, y.shape());
  check_shape("relu_backward_data", "dx", dx, y.shape());
  const int64_t m = y.shape().image_size();
  for (int i = 0; i < y.n(); ++i)
    for (int64_t k = 0; k < m; ++k) dx.image(i)[k] = y.image(i)[k] > T(0) ? dy.image(i)[k] : T(0);
}

template <class T>
void relu_backward_data_guided_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  check_shape("relu_backward_data_guided", "dy", dy, y.shape());
  check_shape("relu_backward_data_guided", "dx", dx, y.shape());
  const int64_t m = y.shape().image_size();
  for (int i = 0; i < y.n(); ++i)
    for (int64_t k = 0; k < m; ++k) {
      const T g = dy.image(i)[k];
      dx.image(i)[k] = y.image(i)[k] > T(0) && g > T(0) ? g : T(0);
    }
}

template void relu_forward_reference<float>(const Tensor&, const Tensor&);
template void relu_forward_reference<double>(const TensorD&, const TensorD&);
template void relu_backward_data_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void relu_backward_data_reference<double>(const TensorD&, const TensorD&, const TensorD&);
template void relu_backward_data_guided_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void relu_backward_data_guided_reference<double>(const TensorD&, const TensorD&, const TensorD&);

void relu_forward(const Tensor& x, const Tensor& y) {
  check_shape("relu_forward", "y", y, x.shape());
  if (check_same_device<float>("relu_forward", {&x, &y}) == Device::cuda) return relu_forward_cuda(x, y);
  map_elements(x, y, [](float v) { return relu_value(v); });
}

namespace {
// The element-wise backwards (plain, guided): checks, then dx[k] = grad(y[k], dy[k]) image by
// image on the CPU. False when the tensors live on a device: the caller launches its kernel.
// `grad` is a lambda (its own type), so the loop inlines and vectorises it.
template <class Grad>
bool elementwise_backward_on_cpu(const char* op, const Tensor& y, const Tensor& dy, const Tensor& dx, Grad grad) {
  check_shape(op, "dy", dy, y.shape());
  check_shape(op, "dx", dx, y.shape());
  if (check_same_device<float>(op, {&y, &dy, &dx}) == Device::cuda) return false;
  map_elements(y, dy, dx, grad);
  return true;
}
}  // namespace

void relu_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  if (!elementwise_backward_on_cpu("relu_backward_data", y, dy, dx, [](float v, float g) { return relu_grad(v, g); }))
    relu_backward_data_cuda(y, dy, dx);
}

void relu_backward_data_guided(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  if (!elementwise_backward_on_cpu("relu_backward_data_guided", y, dy, dx,
                                   [](float v, float g) { return relu_grad_guided(v, g); }))
    relu_backward_data_guided_cuda(y, dy, dx);
}

void relu_backward_data_redirected(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_shape("relu_backward_data_redirected", "dy", dy, y.shape());
  check_shape("relu_backward_data_redirected", "dx", dx, y.shape());
  if (check_same_device<float>("relu_backward_data_redirected", {&y, &dy, &dx}) == Device::cuda)
    return relu_backward_data_redirected_cuda(y, dy, dx);
  const int64_t m = y.shape().image_size();
  for (int i = 0; i < y.n(); ++i) {
    const float* yi = y.image(i);
    const float* dyi = dy.image(i);
    float* dxi = dx.image(i);
    bool passes = false;
    for (int64_t k = 0; k < m && !passes; ++k) passes = relu_grad(yi[k], dyi[k]) != 0.f;
    for (int64_t k = 0; k < m; ++k) dxi[k] = passes ? relu_grad(yi[k], dyi[k]) : relu_grad_redirected(yi[k], dyi[k]);
  }
}

Shape relu_mask_shape(Shape y) { return Shape{y.n, 1, 1, int(relu_mask_words(y.image_size()))}; }

namespace {
void check_mask(const char* op, const MaskTensor& mask, Shape y) {
  CUVIZ_CHECK(mask.shape() == relu_mask_shape(y) && mask.contiguous(), op, ": mask ", mask.shape().str(),
              " must be a dense ", relu_mask_shape(y).str(), " for ", y.str());
}

// One mask word from 32 consecutive outputs: bit b is y[b] > 0 (false for -0 and NaN, as the
// comparison in relu_grad). With AVX2, four 8-lane compares whose sign bits movemask packs.
inline uint32_t mask_word(const float* y) {
#if defined(__AVX2__)
  const __m256 zero = _mm256_setzero_ps();
  uint32_t bits = 0;
  for (int q = 0; q < 4; ++q)
    bits |= uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(y + 8 * q), zero, _CMP_GT_OQ))) << (8 * q);
  return bits;
#else
  uint32_t bits = 0;
  for (int b = 0; b < 32; ++b) bits |= uint32_t(y[b] > 0.f) << b;
  return bits;
#endif
}

}  // namespace

void relu_mask_forward(const Tensor& y, const MaskTensor& mask) {
  check_mask("relu_mask_forward", mask, y.shape());
  CUVIZ_CHECK(mask.device() == y.device(), "relu_mask_forward: y and mask on different devices");
  if (y.device() == Device::cuda) return relu_mask_forward_cuda(y, mask);
  const int64_t m = y.shape().image_size(), words = relu_mask_words(m), full = m / 32;
  // Every word of the batch is independent: one parallel loop over all of them (a render step
  // runs this after every ReLU, so it must cost no more than a pass over y).
  const int64_t total = int64_t(y.n()) * words;
#pragma omp parallel for schedule(static) if (total > 4096)
  for (int64_t t = 0; t < total; ++t) {
    const int64_t i = t / words, w = t % words;
    const float* yi = y.image(int(i));
    if (w < full) {
      mask.image(int(i))[w] = mask_word(yi + w * 32);
    } else {  // the image's last, partial word
      uint32_t bits = 0;
      for (int64_t b = 0, k = w * 32; k < m; ++b, ++k) bits |= uint32_t(yi[k] > 0.f) << b;
      mask.image(int(i))[w] = bits;
    }
  }
}

void relu_backward_data_masked(const MaskTensor& mask, const Tensor& dy, const Tensor& dx, bool redirected) {
  check_mask("relu_backward_data_masked", mask, dy.shape());
  check_shape("relu_backward_data_masked", "dx", dx, dy.shape());
  CUVIZ_CHECK(mask.device() == dy.device(), "relu_backward_data_masked: mask and dy on different devices");
  if (check_same_device<float>("relu_backward_data_masked", {&dy, &dx}) == Device::cuda)
    return relu_backward_data_masked_cuda(mask, dy, dx, redirected);
  const int64_t m = dy.shape().image_size();
  // relu_grad(y, dy) with y > 0 read from the mask: 1.f stands for "on", 0.f for "off".
  auto on = [](const uint32_t* wi, int64_t k) { return mask_bit(wi, k) ? 1.f : 0.f; };
  for (int i = 0; i < dy.n(); ++i) {
    const uint32_t* wi = mask.image(i);
    const float* dyi = dy.image(i);
    float* dxi = dx.image(i);
    bool passes = !redirected;
    for (int64_t k = 0; k < m && !passes; ++k) passes = relu_grad(on(wi, k), dyi[k]) != 0.f;
#pragma omp parallel for schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k)
      dxi[k] = passes ? relu_grad(on(wi, k), dyi[k]) : relu_grad_redirected(on(wi, k), dyi[k]);
  }
}

void relu_backward_data_guided_masked(const MaskTensor& mask, const Tensor& dy, const Tensor& dx) {
  check_mask("relu_backward_data_guided_masked", mask, dy.shape());
  check_shape("relu_backward_data_guided_masked", "dx", dx, dy.shape());
  CUVIZ_CHECK(mask.device() == dy.device(), "relu_backward_data_guided_masked: mask and dy on different devices");
  if (check_same_device<float>("relu_backward_data_guided_masked", {&dy, &dx}) == Device::cuda)
    return relu_backward_data_guided_masked_cuda(mask, dy, dx);
  const int64_t m = dy.shape().image_size();
  for (int i = 0; i < dy.n(); ++i) {
    const uint32_t* wi = mask.image(i);
    const float* dyi = dy.image(i);
    float* dxi = dx.image(i);
#pragma omp parallel for schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) dxi[k] = relu_grad_guided(mask_bit(wi, k) ? 1.f : 0.f, dyi[k]);
  }
}

}  // namespace cuviz
