// Sigmoid: y = 1 / (1 + e^-x).  Backward: dx = dy * y * (1 - y)  (the derivative through the
// output, so the backward needs only y, like softmax).
#pragma once

#include <cmath>

#include "core/host_device.h"
#include "core/tensor.h"

namespace cuviz {

// exp by precision on host and device alike (expf for float, exp for double).
CUVIZ_HD float sigmoid_exp(float x) { return expf(x); }
CUVIZ_HD double sigmoid_exp(double x) { return exp(x); }

// For x far below 0, e^-x overflows to +inf and y is exactly 0 (no NaN).
template <class T>
CUVIZ_HD T sigmoid_value(T x) {
  return T(1) / (T(1) + sigmoid_exp(-x));
}
template <class T>
CUVIZ_HD T sigmoid_grad(T y, T dy) {
  return dy * y * (T(1) - y);
}

// y = sigmoid(x) on the tensors' device. x and y may be the same tensor (in place).
void sigmoid_forward(const Tensor& x, const Tensor& y);
// dx = dy * y * (1 - y). dy and dx may be the same tensor.
void sigmoid_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx);

// Plain-loop references (CPU), also in double for gradient checks.
template <class T>
void sigmoid_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void sigmoid_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx);

}  // namespace cuviz
