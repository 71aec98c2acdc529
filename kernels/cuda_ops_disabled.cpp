// Without CUDA no tensor can live on a device (Buffer refuses to allocate one), so these are
// unreachable in practice; they exist so the dispatching ops link, and they say why if reached.
#include "kernels/cuda_ops.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  throw Error(cat(op, ": this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)"));
}
}  // namespace

void relu_forward_cuda(const Tensor&, const Tensor&) { no_cuda("relu_forward"); }
void relu_backward_data_cuda(const Tensor&, const Tensor&, const Tensor&) { no_cuda("relu_backward_data"); }

}  // namespace cuviz
