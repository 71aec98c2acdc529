// Batch normalization (inference) on CUDA, one thread per element:
//   y = a_c x + b_c,  a_c = scale_c / sqrt(var_c + eps),  b_c = bias_c - a_c mean_c;   dx = a_c dy.
// The statistics are device tensors {1, C, 1, 1}; a_c and b_c are recomputed per element (a few
// flops, cheaper than a separate pass). y may be x and dx may be dy (element-wise).
#include "kernels/batchnorm.h"
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"

namespace cuviz {

namespace {

struct BnPtrs {
  const float *scale, *bias, *mean, *var;
  float eps;
};

__global__ void batchnorm_kernel(BnPtrs bn, const float* x, int64_t x_stride, float* y, int64_t y_stride, int C,
                                 int64_t HW, int64_t total, bool with_shift) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = e % (C * HW), n = e / (C * HW);
    const int c = int(k / HW);
    const float a = bn.scale[c] / sqrtf(bn.var[c] + bn.eps);
    const float b = with_shift ? bn.bias[c] - a * bn.mean[c] : 0.f;
    y[n * y_stride + k] = a * x[n * x_stride + k] + b;
  }
}

void launch(const BatchNormWeights& w, const Tensor& x, const Tensor& y, bool with_shift) {
  const int64_t total = x.numel();
  if (total == 0) return;
  const BnPtrs bn{w.scale.data(), w.bias.data(), w.mean.data(), w.var.data(), w.eps};
  const int threads = 256;
  const int blocks = int(std::min<int64_t>((total + threads - 1) / threads, 65535));
  batchnorm_kernel<<<blocks, threads, 0, current_stream()>>>(bn, x.data(), x.batch_stride(), y.data(), y.batch_stride(),
                                                             x.c(), int64_t(x.h()) * x.w(), total, with_shift);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace

// kernel launchers

void batchnorm_forward_cuda(const BatchNormWeights& bn, const Tensor& x, const Tensor& y) { launch(bn, x, y, true); }
void batchnorm_backward_data_cuda(const BatchNormWeights& bn, const Tensor& dy, const Tensor& dx) {
  launch(bn, dy, dx, false);
}

}  // namespace cuviz
