// ReLU: y = max(x, 0).  Backward: dx = dy * [y > 0]  (y > 0 exactly when x > 0, so the
// backward needs only the output, which lets Caffe-style in-place ReLUs drop their input).
#pragma once

#include "kernels/host_device.h"
#include "nn/tensor.h"

namespace cuviz {

CUVIZ_HD float relu_value(float x) { return x > 0.f ? x : 0.f; }
CUVIZ_HD float relu_grad(float y, float dy) { return y > 0.f ? dy : 0.f; }
// Lucid's redirected gradient (dy of a loss being MINIMISED): where the unit is off, pass dy only
// when it does not push the input further down (dy > 0 would lower x under gradient descent).
CUVIZ_HD float relu_grad_redirected(float y, float dy) { return (y > 0.f || dy <= 0.f) ? dy : 0.f; }

// y = max(x, 0) on the tensors' device. x and y may be the same tensor (in place).
void relu_forward(const Tensor& x, const Tensor& y);
// dx = dy where y > 0, else 0. dy and dx may be the same tensor.
void relu_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx);

// Lucid's relu_gradient_override (redirected_relu_grad), per image: the plain gradient when any
// of it passes (some y > 0 with dy != 0), else relu_grad_redirected everywhere, so a unit that
// never fired still gets a gradient that can switch it on. dy and dx may be the same tensor.
void relu_backward_data_redirected(const Tensor& y, const Tensor& dy, const Tensor& dx);

// Plain-loop references (CPU), also in double for gradient checks.
template <class T>
void relu_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void relu_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx);

}  // namespace cuviz
