// The CUDA implementations behind each op's device dispatch. Callers use the op headers
// (kernels/relu.h, ...); these are called by them when the tensors live on a CUDA device.
// Defined in kernels/<op>.cu, or in kernels/cuda_ops_disabled.cpp (throwing) without CUDA.
// Arguments are already checked by the dispatching function.
#pragma once

#include "nn/tensor.h"

namespace cuviz {

void relu_forward_cuda(const Tensor& x, const Tensor& y);
void relu_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx);

}  // namespace cuviz
