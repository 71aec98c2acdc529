// ReLU on the CPU, and the dispatch to CUDA by the tensors' device.
#include "kernels/relu.h"

#include "kernels/check.h"
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

template void relu_forward_reference<float>(const Tensor&, const Tensor&);
template void relu_forward_reference<double>(const TensorD&, const TensorD&);
template void relu_backward_data_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void relu_backward_data_reference<double>(const TensorD&, const TensorD&, const TensorD&);

void relu_forward(const Tensor& x, const Tensor& y) {
  check_shape("relu_forward", "y", y, x.shape());
  if (check_same_device<float>("relu_forward", {&x, &y}) == Device::cuda) return relu_forward_cuda(x, y);
  const int64_t m = x.shape().image_size();
  for (int i = 0; i < x.n(); ++i) {
    const float* xi = x.image(i);
    float* yi = y.image(i);
#pragma omp parallel for simd schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) yi[k] = relu_value(xi[k]);
  }
}

void relu_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_shape("relu_backward_data", "dy", dy, y.shape());
  check_shape("relu_backward_data", "dx", dx, y.shape());
  if (check_same_device<float>("relu_backward_data", {&y, &dy, &dx}) == Device::cuda)
    return relu_backward_data_cuda(y, dy, dx);
  const int64_t m = y.shape().image_size();
  for (int i = 0; i < y.n(); ++i) {
    const float* yi = y.image(i);
    const float* dyi = dy.image(i);
    float* dxi = dx.image(i);
#pragma omp parallel for simd schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) dxi[k] = relu_grad(yi[k], dyi[k]);
  }
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
}  // namespace

void relu_mask_forward(const Tensor& y, const MaskTensor& mask) {
  check_mask("relu_mask_forward", mask, y.shape());
  CUVIZ_CHECK(mask.device() == y.device(), "relu_mask_forward: y and mask on different devices");
  if (y.device() == Device::cuda) return relu_mask_forward_cuda(y, mask);
  const int64_t m = y.shape().image_size(), words = relu_mask_words(m);
  for (int i = 0; i < y.n(); ++i) {
    const float* yi = y.image(i);
    uint32_t* wi = mask.image(i);
#pragma omp parallel for schedule(static) if (words > 8192)
    for (int64_t w = 0; w < words; ++w) {
      uint32_t bits = 0;
      for (int64_t b = 0, k = w * 32; b < 32 && k < m; ++b, ++k) bits |= uint32_t(yi[k] > 0.f) << b;
      wi[w] = bits;
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

}  // namespace cuviz
