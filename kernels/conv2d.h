// 2-D convolution (cross-correlation, as in every framework), NCHW, weights OIHW:
//   y[n,o,i,j] = b[o] + sum_{c in group(o), p, q} w[o, c', p, q] * x[n, c, i*sh - pt + p*dh, j*sw - pl + q*dw]
// with zero padding. Backward-data is the transposed convolution of dy with the same weights;
// backward-weight correlates x with dy. Derivations: docs/backprop/conv2d_linear.md.
#pragma once

#include "core/tensor.h"

namespace cuviz {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;  // ONNX allows asymmetric pads
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  bool fuse_relu = false;  // forward only: y = max(conv + b, 0) in the same pass

  // Symmetric padding, the common case.
  static Conv2dParams make(int stride, int pad, int dilation = 1, int groups = 1) {
    return Conv2dParams{stride, stride, pad, pad, pad, pad, dilation, dilation, groups, false};
  }
};

// Output shape for input x and weights w = {out_channels, in_channels / groups, kh, kw}.
// Throws with the op name and shapes when they do not fit together.
Shape conv2d_output_shape(const Conv2dParams& p, Shape x, Shape w);

// y = conv(x, w) + b. b is {1, out_channels, 1, 1} or an empty Tensor (no bias).
// CPU: im2col + SGEMM (OpenBLAS) per image, Winograd F(2x2, 3x3) for 3x3 stride 1; CUDA: implicit GEMM.
void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y);
// dx = conv_transpose(dy, w) (overwrites dx).
void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w, const Tensor& dx);
// dw = sum_n corr(x, dy), db = sum_{n,i,j} dy (overwrite; db may be empty).
void conv2d_backward_weight(const Conv2dParams& p, const Tensor& x, const Tensor& dy, const Tensor& dw,
                            const Tensor& db);

// Plain seven-loop references (CPU; float and double).
template <class T>
void conv2d_forward_reference(const Conv2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& w,
                              const BasicTensor<T>& b, const BasicTensor<T>& y);
template <class T>
void conv2d_backward_data_reference(const Conv2dParams& p, const BasicTensor<T>& dy, const BasicTensor<T>& w,
                                    const BasicTensor<T>& dx);
template <class T>
void conv2d_backward_weight_reference(const Conv2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& dy,
                                      const BasicTensor<T>& dw, const BasicTensor<T>& db);

}  // namespace cuviz
