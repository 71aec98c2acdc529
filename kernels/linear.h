// Fully connected layer (Caffe InnerProduct, ONNX Gemm with transB = 1):
//   y[n, o] = b[o] + sum_k w[o, k] x[n, k],  x flattened to {n, K} (K = C*H*W), w {O, K, 1, 1}.
// Backward: dx = dy w, dw = dy^T x, db = sum_n dy.
#pragma once

#include "core/tensor.h"

namespace cuviz {

// y is {n, O, 1, 1}; b is {1, O, 1, 1} or empty.
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y);
void linear_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx);
void linear_backward_weight(const Tensor& x, const Tensor& dy, const Tensor& dw, const Tensor& db);

template <class T>
void linear_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& w, const BasicTensor<T>& b,
                              const BasicTensor<T>& y);
template <class T>
void linear_backward_data_reference(const BasicTensor<T>& dy, const BasicTensor<T>& w, const BasicTensor<T>& dx);
template <class T>
void linear_backward_weight_reference(const BasicTensor<T>& x, const BasicTensor<T>& dy, const BasicTensor<T>& dw,
                                      const BasicTensor<T>& db);

}  // namespace cuviz
