// Concatenation along channels on CUDA: input i is copied into channels [off_i, off_i + C_i) of
// y (a 2-D copy per input: one row per image), and backward copies those slices of dy back.
// Networks usually avoid both copies by writing each branch straight into its slice of y.
#include "kernels/concat.h"
#include "kernels/cuda_ops.h"
#include "kernels/tensor_copy.cuh"

namespace cuviz {

// kernel launchers

void concat_forward_cuda(std::span<const Tensor> xs, const Tensor& y) {
  int off = 0;
  for (const Tensor& x : xs) {
    copy_view_cuda(x, y.channels(off, x.c()));
    off += x.c();
  }
}

void concat_backward_data_cuda(const Tensor& dy, std::span<const Tensor> dxs) {
  int off = 0;
  for (const Tensor& dx : dxs) {
    copy_view_cuda(dy.channels(off, dx.c()), dx);
    off += dx.c();
  }
}

}  // namespace cuviz
