// Dropout at inference is the identity (Caffe and PyTorch scale at training time), and flatten
// is a reshape of a dense tensor to {n, C*H*W, 1, 1}: neither moves data in a network.
#pragma once

#include "core/tensor.h"

namespace cuviz {

// y = x (a copy unless y is x).
void dropout_forward(const Tensor& x, const Tensor& y);
// dx = dy.
void dropout_backward_data(const Tensor& dy, const Tensor& dx);
// {n, c, h, w} -> {n, c*h*w, 1, 1}.
inline Shape flatten_shape(Shape s) { return Shape{s.n, int(s.image_size()), 1, 1}; }

}  // namespace cuviz
