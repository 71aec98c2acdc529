// Without CUDA there is no oracle: cudnn_oracle_available() is false, so GPU tests and
// benchmarks never call the others; they say why if reached.
#include "kernels/cudnn_oracle.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cudnn(const char* op) {
  throw Error(cat(op, ": this cuviz was built without CUDA, so there is no cuDNN/cuBLAS oracle"));
}
}  // namespace

bool cudnn_oracle_available() { return false; }
bool cublas_oracle_available() { return false; }
std::string cudnn_version() { return ""; }
std::string cublas_version() { return ""; }
void cudnn_conv2d_forward(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool) {
  no_cudnn("cudnn_conv2d_forward");
}
void cudnn_conv2d_backward_data(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, bool) {
  no_cudnn("cudnn_conv2d_backward_data");
}
void cudnn_conv2d_backward_weight(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cudnn("cudnn_conv2d_backward_weight");
}
void cudnn_pool2d_forward(const Pool2dParams&, const Tensor&, const Tensor&) { no_cudnn("cudnn_pool2d_forward"); }
void cudnn_lrn_forward(const LrnParams&, const Tensor&, const Tensor&) { no_cudnn("cudnn_lrn_forward"); }
void cudnn_softmax_forward(const Tensor&, const Tensor&, bool) { no_cudnn("cudnn_softmax_forward"); }
void cublas_linear_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cudnn("cublas_linear_forward");
}

}  // namespace cuviz
