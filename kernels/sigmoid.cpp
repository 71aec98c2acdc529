// Sigmoid on the CPU (plain references and the element-wise OpenMP loop), and the dispatch to
// CUDA by the tensors' device.
#include "kernels/sigmoid.h"

#include "core/check.h"
#include "kernels/elementwise.h"
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
  map_elements(x, y, [](float v) { return sigmoid_value(v); });
}

void sigmoid_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  check_shape("sigmoid_backward_data", "dy", dy, y.shape());
  check_shape("sigmoid_backward_data", "dx", dx, y.shape());
  if (check_same_device<float>("sigmoid_backward_data", {&y, &dy, &dx}) == Device::cuda)
    return sigmoid_backward_data_cuda(y, dy, dx);
  map_elements(y, dy, dx, [](float v, float d) { return sigmoid_grad(v, d); });
}

}  // namespace cuviz
