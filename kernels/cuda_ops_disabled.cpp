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
void relu_backward_data_redirected_cuda(const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("relu_backward_data_redirected");
}
void relu_mask_forward_cuda(const Tensor&, const MaskTensor&) { no_cuda("relu_mask_forward"); }
void relu_backward_data_masked_cuda(const MaskTensor&, const Tensor&, const Tensor&, bool) {
  no_cuda("relu_backward_data_masked");
}
void relu_backward_data_guided_cuda(const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("relu_backward_data_guided");
}
void relu_backward_data_guided_masked_cuda(const MaskTensor&, const Tensor&, const Tensor&) {
  no_cuda("relu_backward_data_guided_masked");
}

void sigmoid_forward_cuda(const Tensor&, const Tensor&) { no_cuda("sigmoid_forward"); }
void sigmoid_backward_data_cuda(const Tensor&, const Tensor&, const Tensor&) { no_cuda("sigmoid_backward_data"); }

void conv2d_forward_cuda(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("conv2d_forward");
}
void conv2d_backward_data_cuda(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("conv2d_backward_data");
}
void conv2d_backward_weight_cuda(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("conv2d_backward_weight");
}
size_t conv2d_backward_weight_cuda_workspace(const Conv2dParams&, Shape, Shape, Shape) {
  no_cuda("conv2d_backward_weight");
}
void linear_forward_cuda(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { no_cuda("linear_forward"); }
void linear_backward_data_cuda(const Tensor&, const Tensor&, const Tensor&) { no_cuda("linear_backward_data"); }
void linear_backward_weight_cuda(const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("linear_backward_weight");
}
void pool2d_forward_cuda(const Pool2dParams&, const Tensor&, const Tensor&) { no_cuda("pool2d_forward"); }
void pool2d_backward_data_cuda(const Pool2dParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("pool2d_backward_data");
}
void pool2d_forward_winners_cuda(const Pool2dParams&, const Tensor&, const Tensor&, const WinnerTensor&) {
  no_cuda("pool2d_forward_winners");
}
void pool2d_backward_data_winners_cuda(const Pool2dParams&, const WinnerTensor&, const Tensor&, const Tensor&) {
  no_cuda("pool2d_backward_data_winners");
}
void gram_forward_cuda(GramNorm, const Tensor&, const Tensor&) { no_cuda("gram_forward"); }
void gram_backward_cuda(GramNorm, const Tensor&, const Tensor&, const Tensor&) { no_cuda("gram_backward"); }
void style_loss_values_cuda(const Tensor&, const Tensor&, float, float*, const int*) { no_cuda("style_loss_forward"); }
void style_loss_backward_cuda(const Tensor&, const Tensor&, const Tensor&, float, const float*, const int*,
                              const Tensor&) {
  no_cuda("style_loss_backward");
}
void lrn_forward_cuda(const LrnParams&, const Tensor&, const Tensor&) { no_cuda("lrn_forward"); }
void lrn_backward_data_cuda(const LrnParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("lrn_backward_data");
}
void concat_forward_cuda(std::span<const Tensor>, const Tensor&) { no_cuda("concat_forward"); }
void concat_backward_data_cuda(const Tensor&, std::span<const Tensor>) { no_cuda("concat_backward_data"); }
void softmax_forward_cuda(const Tensor&, const Tensor&) { no_cuda("softmax_forward"); }
void softmax_backward_data_cuda(const Tensor&, const Tensor&, const Tensor&) { no_cuda("softmax_backward_data"); }
void log_softmax_forward_cuda(const Tensor&, const Tensor&) { no_cuda("log_softmax_forward"); }
void log_softmax_backward_data_cuda(const Tensor&, const Tensor&, const Tensor&) {
  no_cuda("log_softmax_backward_data");
}
void batchnorm_forward_cuda(const BatchNormWeights&, const Tensor&, const Tensor&) { no_cuda("batchnorm_forward"); }
void batchnorm_backward_data_cuda(const BatchNormWeights&, const Tensor&, const Tensor&) {
  no_cuda("batchnorm_backward_data");
}
void dropout_forward_cuda(const Tensor&, const Tensor&) { no_cuda("dropout_forward"); }
void dropout_backward_data_cuda(const Tensor&, const Tensor&) { no_cuda("dropout_backward_data"); }
void add_forward_cuda(const Tensor&, const Tensor&, const Tensor&) { no_cuda("add_forward"); }

void lrp_divide_cuda(const Tensor&, const Tensor&, const Tensor&, int, float, const Tensor&) { no_cuda("lrp_divide"); }
void lrp_clamp_cuda(const Tensor&, int, const Tensor&) { no_cuda("lrp_clamp"); }
void lrp_multiply_cuda(const Tensor&, const Tensor&, float, bool, const Tensor&) { no_cuda("lrp_multiply"); }
void lrp_axpy_cuda(float, const Tensor&, const Tensor&) { no_cuda("lrp_axpy"); }

}  // namespace cuviz
