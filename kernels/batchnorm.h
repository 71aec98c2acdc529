// Batch normalization in inference mode, per channel c:
//   y = scale_c (x - mean_c) / sqrt(var_c + eps) + bias_c  =  a_c x + b_c
// Backward-data: dx = a_c dy. Folding into a preceding conv: w'[o] = a_o w[o],
// b'[o] = a_o (b[o] - mean_o) + bias_o, which removes the layer from the network.
#pragma once

#include "core/tensor.h"

namespace cuviz {

// scale, bias, mean, var are {1, C, 1, 1}.
struct BatchNormWeights {
  Tensor scale, bias, mean, var;
  float eps = 1e-5f;
};

void batchnorm_forward(const BatchNormWeights& bn, const Tensor& x, const Tensor& y);
void batchnorm_backward_data(const BatchNormWeights& bn, const Tensor& dy, const Tensor& dx);
// Rewrites conv weights w {O, I, kh, kw} and bias b {1, O, 1, 1} (CPU tensors) so that
// conv(x, w', b') == batchnorm(conv(x, w, b)).
void batchnorm_fold_into_conv(const BatchNormWeights& bn, const Tensor& w, const Tensor& b);

template <class T>
void batchnorm_forward_reference(const BatchNormWeights& bn, const BasicTensor<T>& x, const BasicTensor<T>& y);

}  // namespace cuviz
