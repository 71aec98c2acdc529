// Element-wise sum CUDA kernel: one thread per element (grid-stride), each tensor with its own
// batch stride so channel-slice views of a concat work; maths shared through add_value.
#include "kernels/add.h"
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"

namespace cuviz {

namespace {

__global__ void add_forward_kernel(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* y,
                                   int64_t y_stride, int64_t m, int n) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / m, k = i % m;
    y[img * y_stride + k] = add_value(a[img * a_stride + k], b[img * b_stride + k]);
  }
}

}  // namespace

// kernel launchers

void add_forward_cuda(const Tensor& a, const Tensor& b, const Tensor& y) {
  const int64_t m = a.shape().image_size(), total = m * a.n();
  if (total == 0) return;
  const int threads = 256;
  const int blocks = int(std::min<int64_t>((total + threads - 1) / threads, 65535));
  add_forward_kernel<<<blocks, threads, 0, current_stream()>>>(a.data(), a.batch_stride(), b.data(), b.batch_stride(),
                                                               y.data(), y.batch_stride(), m, a.n());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
