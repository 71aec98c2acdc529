// Max and average pooling over k x k windows, NCHW, with padding, ceil or floor output size
// and global pooling.
//   out = floor_or_ceil((in + pad_begin + pad_end - k) / stride) + 1, and with ceil mode the
//   last window must start inside the input or the left padding (Caffe, PyTorch, ONNX agree).
// Max pads with -inf; average divides by the window clipped to the padded input
// (count_include_pad, Caffe's divisor) or to the input only (count_include_pad = false).
// Which taps of a window are real and the divisor: pool_window (kernels/pool_window.h), the
// one rule the CPU loops and the CUDA kernels share.
// Backward-data recomputes the arg-max from x and y (no stored indices).
//
// The stash (nn/network.cpp, compact plans): max pooling can instead record its WINNERS in the
// forward, the input-plane position h * W + w of each window's first tap (scan order) equal to its
// maximum, the very tap the backward above routes to; the backward then needs neither x nor y.
#pragma once

#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"

namespace cuviz {

enum class PoolMode { max, average };

struct Pool2dParams {
  PoolMode mode = PoolMode::max;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;  // ONNX MaxPool dilations
  bool ceil_mode = false;
  bool count_include_pad = true;  // average only: true = Caffe / PyTorch default divisor
  bool global = false;            // kernel = whole input, stride 1, no padding

  static Pool2dParams make(PoolMode mode, int kernel, int stride, int pad = 0, bool ceil_mode = false) {
    Pool2dParams p;
    p.mode = mode;
    p.kernel_h = p.kernel_w = kernel;
    p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
    p.ceil_mode = ceil_mode;
    return p;
  }
};

// Output shape; throws naming the op for impossible configurations.
Shape pool2d_output_shape(const Pool2dParams& p, Shape x);

void pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y);
// dx from dy (overwrites dx). Max: dy goes to the first maximum of each window (ties: first in
// scan order), found by comparing x with y. Average: dy / divisor to every element of the window.
void pool2d_backward_data(const Pool2dParams& p, const Tensor& x, const Tensor& y, const Tensor& dy,
                          const Tensor& dx);

// Max pooling's winners: one int32 per output (y's shape, dense), -1 where no tap equals the
// maximum (a window of NaNs).
using WinnerTensor = BasicTensor<int32_t>;
// y = pool2d_forward(p, x) (bitwise) and the winner of each window. Max mode only.
void pool2d_forward_winners(const Pool2dParams& p, const Tensor& x, const Tensor& y, const WinnerTensor& winners);
// dx from dy through the recorded winners (overwrites dx): bitwise pool2d_backward_data's result,
// the outputs of each plane added in the same (i, j) order. Max mode only; x's shape is dx's.
void pool2d_backward_data_winners(const Pool2dParams& p, const WinnerTensor& winners, const Tensor& dy,
                                  const Tensor& dx);

// One step of the winner search over a window's taps in scan order: keeps the running maximum
// as std::max(acc, v) does (a NaN never wins) and the first tap equal to it, so at the end
// `best` is the first tap equal to the maximum (also when every tap is -inf).
CUVIZ_HD void winner_step(float v, int32_t at, float& acc, int32_t& best) {
  if (acc < v) {
    acc = v;
    best = at;
  } else if (best < 0 && v == acc) {
    best = at;
  }
}

template <class T>
void pool2d_forward_reference(const Pool2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y);
template <class T>
void pool2d_backward_data_reference(const Pool2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y,
                                    const BasicTensor<T>& dy, const BasicTensor<T>& dx);

}  // namespace cuviz
