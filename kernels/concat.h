// Concatenation along channels: y = [x_0; x_1; ...]. Backward hands each input its channel slice
// of dy. Networks avoid both copies by giving each branch a channel-slice view of y
// (Tensor::channels); these functions are for the cases where the inputs live elsewhere.
#pragma once

#include <span>

#include "core/tensor.h"

namespace cuviz {

// Output shape; inputs must agree in n, h and w.
Shape concat_output_shape(std::span<const Shape> xs);
void concat_forward(std::span<const Tensor> xs, const Tensor& y);
void concat_backward_data(const Tensor& dy, std::span<const Tensor> dxs);

}  // namespace cuviz
