// Softmax and log-softmax over the channel axis, independently at every (n, h, w):
//   y_c = exp(x_c - m) / sum_c' exp(x_c' - m),  m = max_c x_c  (shifted for stability)
//   log-softmax: y_c = x_c - m - log sum_c' exp(x_c' - m)
// Backward: softmax dx = y (dy - <dy, y>);  log-softmax dx = dy - exp(y) sum_c' dy_c'.
// Any other axis is the channel axis of a reshaped view (see tests/kernels/onnx_conformance).
#pragma once

#include "core/tensor.h"

namespace cuviz {

void softmax_forward(const Tensor& x, const Tensor& y);
void softmax_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx);
void log_softmax_forward(const Tensor& x, const Tensor& y);
void log_softmax_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx);

template <class T>
void softmax_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void softmax_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx);
template <class T>
void log_softmax_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void log_softmax_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy,
                                         const BasicTensor<T>& dx);

}  // namespace cuviz
