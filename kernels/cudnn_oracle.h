// cuDNN and cuBLAS as an independent oracle (GPU tests) and baseline (bench/gpu_ops_bench.cu):
// the same op signatures as kernels/<op>.h, computed by NVIDIA's libraries in strict FP32 (FMA
// math, no TF32) so that they agree with the hand-written kernels to rounding. Never a product path.
#pragma once

#include <string>

#include "kernels/conv2d.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "core/tensor.h"

namespace cuviz {

// True when cuviz was built with cuDNN and a CUDA device can be used.
bool cudnn_oracle_available();

// Whether the oracle computes exactly what the op computes with these parameters; where it cannot,
// Backend::cudnn (kernels/backend.h) runs the native kernel. cuDNN's legacy API pads symmetrically,
// has no ceil-mode pooling (GoogLeNet's stride-2 max pools add a last window that floor mode drops)
// and takes LRN windows of 1..16 channels (odd here, so that the window is centred as in Caffe).
inline bool cudnn_expresses(const Conv2dParams& p) {
  return p.pad_top == p.pad_bottom && p.pad_left == p.pad_right;
}
// p as resolved by pool2d_forward (global pooling as an explicit window); y the op's output shape.
inline bool cudnn_expresses(const Pool2dParams& p, Shape x, Shape y) {
  if (p.pad_top != p.pad_bottom || p.pad_left != p.pad_right || p.dilation_h != 1 || p.dilation_w != 1) return false;
  return (x.h + 2 * p.pad_top - p.kernel_h) / p.stride_h + 1 == y.h &&
         (x.w + 2 * p.pad_left - p.kernel_w) / p.stride_w + 1 == y.w;
}
inline bool cudnn_expresses(const LrnParams& p) {
  return p.size >= 1 && p.size <= 15 && p.size % 2 == 1 && p.k >= 1e-5f && p.beta >= 0.01f;
}
// True when cuviz was built with CUDA (hence cuBLAS) and a CUDA device can be used.
bool cublas_oracle_available();

// The versions of the libraries this process runs on, "major.minor.patch" as the loaded library
// reports them (cudnnGetProperty, cublasGetProperty; no GPU needed); empty when cuviz was built
// without the library. `cuviz --version` prints them.
std::string cudnn_version();
std::string cublas_version();

// y = conv(x, w) + b (then ReLU if p.fuse_relu). Symmetric padding only (cuDNN's legacy API).
// `exhaustive` times every algorithm once per problem shape (cudnnFind) and keeps the fastest,
// as a benchmark baseline should; otherwise cuDNN's heuristic picks the first GEMM or direct
// algorithm (no FFT / Winograd, which round differently), as an oracle should.
void cudnn_conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y,
                          bool exhaustive = false);
// dx = conv_transpose(dy, w).
void cudnn_conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w, const Tensor& dx,
                                bool exhaustive = false);
// dw = sum_n corr(x, dy); db = sum dy when db is defined.
void cudnn_conv2d_backward_weight(const Conv2dParams& p, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                  const Tensor& db);
// Max / average pooling; symmetric padding, no dilation, and y must have cuDNN's (floor) size.
void cudnn_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y);
// Cross-channel LRN (size 1..16).
void cudnn_lrn_forward(const LrnParams& p, const Tensor& x, const Tensor& y);
// Softmax (or log-softmax) over channels.
void cudnn_softmax_forward(const Tensor& x, const Tensor& y, bool log);
// y = x w^T + b with cublasSgemm (FP32, no tensor cores); needs cuBLAS, not cuDNN.
void cublas_linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y);

}  // namespace cuviz
