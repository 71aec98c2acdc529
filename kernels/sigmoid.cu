// Sigmoid CUDA kernels: one thread per element (grid-stride) on the current stream, each tensor
// with its own batch stride (channel-slice views); the maths shared with the CPU loop through
// sigmoid_value / sigmoid_grad in kernels/sigmoid.h.
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/sigmoid.h"

namespace cuviz {

namespace {

__global__ void sigmoid_forward_kernel(const float* x, int64_t x_stride, float* y, int64_t y_stride, int64_t m,
                                       int n) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / m, k = i % m;
    y[img * y_stride + k] = sigmoid_value(x[img * x_stride + k]);
  }
}

__global__ void sigmoid_backward_kernel(const float* y, int64_t y_stride, const float* dy, int64_t dy_stride,
                                        float* dx, int64_t dx_stride, int64_t m, int n) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / m, k = i % m;
    dx[img * dx_stride + k] = sigmoid_grad(y[img * y_stride + k], dy[img * dy_stride + k]);
  }
}

// Enough blocks for one thread per element, capped (the loops are grid-stride).
int blocks_for(int64_t total, int threads) { return int(std::min<int64_t>((total + threads - 1) / threads, 65535)); }

}  // namespace

// kernel launchers

void sigmoid_forward_cuda(const Tensor& x, const Tensor& y) {
  const int64_t m = x.shape().image_size(), total = m * x.n();
  if (total == 0) return;
  const int threads = 256;
  sigmoid_forward_kernel<<<blocks_for(total, threads), threads, 0, current_stream()>>>(
      x.data(), x.batch_stride(), y.data(), y.batch_stride(), m, x.n());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void sigmoid_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  const int64_t m = y.shape().image_size(), total = m * y.n();
  if (total == 0) return;
  const int threads = 256;
  sigmoid_backward_kernel<<<blocks_for(total, threads), threads, 0, current_stream()>>>(
      y.data(), y.batch_stride(), dy.data(), dy.batch_stride(), dx.data(), dx.batch_stride(), m, y.n());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
