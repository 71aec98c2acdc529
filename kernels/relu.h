// ReLU: y = max(x, 0).  Backward: dx = dy * [y > 0]  (y > 0 exactly when x > 0, so the
// backward needs only the output, which lets Caffe-style in-place ReLUs drop their input).
#pragma once

#include "kernels/host_device.h"
#include "nn/tensor.h"

namespace cuviz {

CUVIZ_HD float relu_value(float x) { return x > 0.f ? x : 0.f; }
CUVIZ_HD float relu_grad(float y, float dy) { return y > 0.f ? dy : 0.f; }

// y = max(x, 0) on the tensors' device. x and y may be the same tensor (in place).
void relu_forward(const Tensor& x, const Tensor& y);
// dx = dy where y > 0, else 0. dy and dx may be the same tensor.
void relu_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx);

// Plain-loop references (CPU), also in double for gradient checks.
template <class T>
void relu_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void relu_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx);

}  // namespace cuviz
