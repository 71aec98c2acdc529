// The CUDA implementations behind each op's device dispatch. Callers use the op headers
// (kernels/relu.h, ...); these are called by them when the tensors live on a CUDA device.
// Defined in kernels/<op>.cu, or in kernels/cuda_ops_disabled.cpp (throwing) without CUDA.
// Arguments are already checked by the dispatching function.
#pragma once

#include <span>

#include "kernels/batchnorm.h"
#include "kernels/conv2d.h"
#include "kernels/gram.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "core/tensor.h"

namespace cuviz {

void relu_forward_cuda(const Tensor& x, const Tensor& y);
void relu_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx);
void relu_backward_data_redirected_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx);
void relu_mask_forward_cuda(const Tensor& y, const MaskTensor& mask);
void relu_backward_data_masked_cuda(const MaskTensor& mask, const Tensor& dy, const Tensor& dx, bool redirected);
void relu_backward_data_guided_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx);
void relu_backward_data_guided_masked_cuda(const MaskTensor& mask, const Tensor& dy, const Tensor& dx);

void sigmoid_forward_cuda(const Tensor& x, const Tensor& y);
void sigmoid_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx);

void conv2d_forward_cuda(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y);
void conv2d_backward_data_cuda(const Conv2dParams& p, const Tensor& dy, const Tensor& w, const Tensor& dx);
void conv2d_backward_weight_cuda(const Conv2dParams& p, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                 const Tensor& db);
// Device scratch bytes conv2d_backward_weight_cuda needs for these shapes (its split-K partial
// sums); a plan reserves the largest in its arena so that backward allocates nothing.
size_t conv2d_backward_weight_cuda_workspace(const Conv2dParams& p, Shape x, Shape dw, Shape dy);

void gram_forward_cuda(GramNorm n, const Tensor& f, const Tensor& g);
void gram_backward_cuda(GramNorm n, const Tensor& f, const Tensor& dg, const Tensor& df);
void style_loss_values_cuda(const Tensor& gram, const Tensor& target, float s, float* values, const int* slots);
void style_loss_backward_cuda(const Tensor& f, const Tensor& gram, const Tensor& target, float coef,
                              const float* weights, const int* slots, const Tensor& df);
void linear_forward_cuda(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y);
void linear_backward_data_cuda(const Tensor& dy, const Tensor& w, const Tensor& dx);
void linear_backward_weight_cuda(const Tensor& x, const Tensor& dy, const Tensor& dw, const Tensor& db);

// p arrives resolved: global pooling as an explicit kernel (H x W, stride 1, no pads), never p.global.
void pool2d_forward_cuda(const Pool2dParams& p, const Tensor& x, const Tensor& y);
void pool2d_backward_data_cuda(const Pool2dParams& p, const Tensor& x, const Tensor& y, const Tensor& dy,
                               const Tensor& dx);
void pool2d_forward_winners_cuda(const Pool2dParams& p, const Tensor& x, const Tensor& y, const WinnerTensor& winners);
void pool2d_backward_data_winners_cuda(const Pool2dParams& p, const WinnerTensor& winners, const Tensor& dy,
                                       const Tensor& dx);

void lrn_forward_cuda(const LrnParams& p, const Tensor& x, const Tensor& y);
void lrn_backward_data_cuda(const LrnParams& p, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx);

void concat_forward_cuda(std::span<const Tensor> xs, const Tensor& y);
void concat_backward_data_cuda(const Tensor& dy, std::span<const Tensor> dxs);

void softmax_forward_cuda(const Tensor& x, const Tensor& y);
void softmax_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx);
void log_softmax_forward_cuda(const Tensor& x, const Tensor& y);
void log_softmax_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx);

void batchnorm_forward_cuda(const BatchNormWeights& bn, const Tensor& x, const Tensor& y);
void batchnorm_backward_data_cuda(const BatchNormWeights& bn, const Tensor& dy, const Tensor& dx);

void dropout_forward_cuda(const Tensor& x, const Tensor& y);
void dropout_backward_data_cuda(const Tensor& dy, const Tensor& dx);

void add_forward_cuda(const Tensor& a, const Tensor& b, const Tensor& y);

void lrp_divide_cuda(const Tensor& r, const Tensor& den, const Tensor& z, int z_sign, float eps, const Tensor& y);
void lrp_clamp_cuda(const Tensor& x, int sign, const Tensor& y);
void lrp_multiply_cuda(const Tensor& a, const Tensor& c, float coef, bool accumulate, const Tensor& y);
void lrp_axpy_cuda(float alpha, const Tensor& x, const Tensor& y);

}  // namespace cuviz
