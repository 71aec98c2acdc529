// Dropout at inference on the CPU and the dispatch to CUDA: y = x and dx = dy (Caffe and PyTorch
// scale by 1/(1-p) while training, so inference needs no scaling). Strided views are allowed.
#include "kernels/dropout.h"

#include <cstring>

#include "core/check.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

namespace {

// dst = src image by image; nothing to do when they are the same view.
void identity(const Tensor& src, const Tensor& dst) {
  if (src.data() == dst.data() && src.batch_stride() == dst.batch_stride()) return;
  const size_t bytes = size_t(src.shape().image_size()) * sizeof(float);
  for (int n = 0; n < src.n(); ++n) std::memmove(dst.image(n), src.image(n), bytes);
}

}  // namespace

void dropout_forward(const Tensor& x, const Tensor& y) {
  check_nonempty("dropout_forward", "x", x);
  check_shape("dropout_forward", "y", y, x.shape());
  if (check_same_device<float>("dropout_forward", {&x, &y}) == Device::cuda) return dropout_forward_cuda(x, y);
  identity(x, y);
}

void dropout_backward_data(const Tensor& dy, const Tensor& dx) {
  check_nonempty("dropout_backward_data", "dy", dy);
  check_shape("dropout_backward_data", "dx", dx, dy.shape());
  if (check_same_device<float>("dropout_backward_data", {&dy, &dx}) == Device::cuda)
    return dropout_backward_data_cuda(dy, dx);
  identity(dy, dx);
}

}  // namespace cuviz
