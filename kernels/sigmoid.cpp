// Sigmoid on the CPU (plain references and an OpenMP loop over each image), and the dispatch to
// CUDA by the tensors' device.
#include "kernels/sigmoid.h"

#include "core/check.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

template <class T>
void sigmoid_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_shape("sigmoid_forward", "y", y, x.shape());
  const int64_t m = x.shape().image_size();
  for (int i = 0; i < x.n(); ++i)
    for (int64_t k = 0; k < m; ++k) y.image(i)[k] = T(1) / (T(1) + std::exp(-x.image(i)[k]));
}

template <class T>
void sigmoid_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  check_shape("sigmoid_backward_data", "dy", dy, y.shape());
  check_shape("sigmoid_backward_data", "dx", dx, y.shape());
  const int64_t m = y.shape().image_size();
  for (int i = 0; i < y.n(); ++i)
    for (int64_t k = 0; k < m; ++k) dx.image(i)[k] = dy.image(i)[k] * y.image(i)[k] * (T(1) - y.image(i)[k]);
}

template void sigmoid_forward_reference<float>(const Tensor&, const Tensor&);
template void sigmoid_forward_reference<double>(const TensorD&, const TensorD&);
template void sigmoid_backward_data_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void sigmoid_backward_data_reference<double>(const TensorD&, const TensorD&, const TensorD&);

void sigmoid_forward(const Tensor& x, const Tensor& y) {
  check_shape("sigmoid_forward", "y", y, x.shape());
  if (check_same_device<float>("sigmoid_forward", {&x, &y}) == Device::cuda) return sigmoid_forward_cuda(x, y);
  const int64_t m = x.shape().image_size();
  for (int i = 0; i < x.n(); ++i) {
    const float* xi = x.image(i);
    float* yi = y.image(i);
#pragma omp parallel for simd schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) yi[k] = sigmoid_value(xi[k]);
  }
}

void sigmoid_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_shape("sigmoid_backward_data", "dy", dy, y.shape());
  check_shape("sigmoid_backward_data", "dx", dx, y.shape());
  if (check_same_device<float>("sigmoid_backward_data", {&y, &dy, &dx}) == Device::cuda)
    return sigmoid_backward_data_cuda(y, dy, dx);
  const int64_t m = y.shape().image_size();
  for (int i = 0; i < y.n(); ++i) {
    const float* yi = y.image(i);
    const float* dyi = dy.image(i);
    float* dxi = dx.image(i);
#pragma omp parallel for simd schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) dxi[k] = sigmoid_grad(yi[k], dyi[k]);
  }
}

}  // namespace cuviz
