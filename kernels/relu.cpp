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

}  // namespace cuviz
