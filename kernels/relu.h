// ReLU: y = max(x, 0).  Backward: dx = dy * [y > 0]  (y > 0 exactly when x > 0, so the
// backward needs only the output, which lets Caffe-style in-place ReLUs drop their input).
//
// The stash (nn/network.cpp, compact plans): the backward needs only WHERE y > 0, one bit per
// element. relu_mask_forward packs those bits, 32 elements per uint32 word, image by image:
//   word k / 32 of image i holds bit (k % 32) = [y_i[k] > 0]; the last word's spare bits are 0,
// and the masked backwards below give bitwise the same dx as the ones that read y.
#pragma once

#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"

namespace cuviz {

CUVIZ_HD float relu_value(float x) { return x > 0.f ? x : 0.f; }
CUVIZ_HD float relu_grad(float y, float dy) { return y > 0.f ? dy : 0.f; }
// Lucid's redirected gradient (dy of a loss being MINIMISED): where the unit is off, pass dy only
// when it does not push the input further down (dy > 0 would lower x under gradient descent).
CUVIZ_HD float relu_grad_redirected(float y, float dy) { return (y > 0.f || dy <= 0.f) ? dy : 0.f; }
// Guided backpropagation (Springenberg et al. 2015, "Striving for simplicity"): the plain ReLU
// gradient with the negative part of dy also zeroed, dx = dy * [y > 0] * [dy > 0]. It is not the
// gradient of anything; it keeps only what both the forward (the unit fired) and the signal from
// above (it would raise the objective) agree on, which gives sharper saliency maps.
CUVIZ_HD float relu_grad_guided(float y, float dy) { return (y > 0.f && dy > 0.f) ? dy : 0.f; }

// y = max(x, 0) on the tensors' device. x and y may be the same tensor (in place).
void relu_forward(const Tensor& x, const Tensor& y);
// dx = dy where y > 0, else 0. dy and dx may be the same tensor.
void relu_backward_data(const Tensor& y, const Tensor& dy, const Tensor& dx);

// Lucid's relu_gradient_override (redirected_relu_grad), per image: the plain gradient when any
// of it passes (some y > 0 with dy != 0), else relu_grad_redirected everywhere, so a unit that
// never fired still gets a gradient that can switch it on. dy and dx may be the same tensor.
void relu_backward_data_redirected(const Tensor& y, const Tensor& dy, const Tensor& dx);
// Guided backpropagation through the ReLU, relu_grad_guided element by element (a backward rule,
// nn/backward_rule.h, not a gradient). dy and dx may be the same tensor.
void relu_backward_data_guided(const Tensor& y, const Tensor& dy, const Tensor& dx);

// A ReLU's stash: bits of y > 0, `relu_mask_words(y)` uint32 words per image.
using MaskTensor = BasicTensor<uint32_t>;
CUVIZ_HD int64_t relu_mask_words(int64_t image_size) { return (image_size + 31) / 32; }
// The mask's shape for an output y: {n, 1, 1, words per image} (a dense tensor of words).
Shape relu_mask_shape(Shape y);
CUVIZ_HD bool mask_bit(const uint32_t* words, int64_t k) { return (words[k >> 5] >> (k & 31)) & 1u; }

// mask = bits of y > 0 (y is the ReLU's output, computed by relu_forward or a conv's fused ReLU).
void relu_mask_forward(const Tensor& y, const MaskTensor& mask);
// relu_backward_data (redirected = false) or relu_backward_data_redirected (true) with the
// mask in place of y. dy and dx may be the same tensor.
void relu_backward_data_masked(const MaskTensor& mask, const Tensor& dy, const Tensor& dx, bool redirected);
// relu_backward_data_guided with the mask in place of y (bitwise the same dx).
void relu_backward_data_guided_masked(const MaskTensor& mask, const Tensor& dy, const Tensor& dx);

// Plain-loop references (CPU), also in double for gradient checks.
template <class T>
void relu_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void relu_backward_data_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx);
template <class T>
void relu_backward_data_guided_reference(const BasicTensor<T>& y, const BasicTensor<T>& dy, const BasicTensor<T>& dx);

}  // namespace cuviz
