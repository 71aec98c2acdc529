// Element-wise sum on the CPU (y = a + b, strided images allowed), and the dispatch to CUDA.
#include "kernels/add.h"

#include "core/check.h"
#include "kernels/elementwise.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

template <class T>
void add_forward_reference(const BasicTensor<T>& a, const BasicTensor<T>& b, const BasicTensor<T>& y) {
  check_shape("add_forward", "b", b, a.shape());
  check_shape("add_forward", "y", y, a.shape());
  const int64_t m = a.shape().image_size();
  for (int i = 0; i < a.n(); ++i)
    for (int64_t k = 0; k < m; ++k) y.image(i)[k] = a.image(i)[k] + b.image(i)[k];
}

template void add_forward_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void add_forward_reference<double>(const TensorD&, const TensorD&, const TensorD&);

void add_forward(const Tensor& a, const Tensor& b, const Tensor& y) {
  check_shape("add_forward", "b", b, a.shape());
  check_shape("add_forward", "y", y, a.shape());
  if (check_same_device<float>("add_forward", {&a, &b, &y}) == Device::cuda) return add_forward_cuda(a, b, y);
  map_elements(a, b, y, [](float u, float v) { return add_value(u, v); });
}

}  // namespace cuviz
