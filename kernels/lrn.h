// Local response normalization across channels (Caffe ACROSS_CHANNELS, ONNX LRN):
//   s[c] = k + alpha / size * sum_{c' in [c - (size-1)/2, c + size/2]} x[c']^2
//   y[c] = x[c] * s[c]^-beta
// Backward: dx[c] = dy[c] s[c]^-beta - 2 alpha beta / size * x[c] * sum_{c': c in window(c')} dy[c'] y[c'] / s[c'].
#pragma once

#include "core/tensor.h"

namespace cuviz {

struct LrnParams {
  int size = 5;
  float alpha = 1e-4f, beta = 0.75f, k = 1.f;
};

void lrn_forward(const LrnParams& p, const Tensor& x, const Tensor& y);
void lrn_backward_data(const LrnParams& p, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx);

template <class T>
void lrn_forward_reference(const LrnParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void lrn_backward_data_reference(const LrnParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y,
                                 const BasicTensor<T>& dy, const BasicTensor<T>& dx);

}  // namespace cuviz
