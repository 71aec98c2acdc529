// Element-wise sum y = a + b (residual `add` layers) and, with y aliasing a, the accumulation
// y += b that networks use to sum the gradients of a blob read by several layers (fan-out).
// Backward of y = a + b is da = db = dy: a copy, no kernel of its own.
#pragma once

#include "core/host_device.h"
#include "core/tensor.h"

namespace cuviz {

CUVIZ_HD float add_value(float a, float b) { return a + b; }

// y = a + b on the tensors' device; y may be the same tensor as a or b (y += b is add_forward(y, b, y)).
void add_forward(const Tensor& a, const Tensor& b, const Tensor& y);

// Plain-loop reference (CPU), also in double.
template <class T>
void add_forward_reference(const BasicTensor<T>& a, const BasicTensor<T>& b, const BasicTensor<T>& y);

}  // namespace cuviz
