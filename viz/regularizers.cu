// Regularizers on CUDA: one block per image sums the per-pixel terms in double with a fixed
// tree reduction (deterministic, no atomics), then one thread per pixel adds weight * dR/dx.
#include <algorithm>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "viz/viz_cuda.h"

namespace cuviz {

namespace {

constexpr int kThreads = 256;

__global__ void reg_value_kernel(RegKind kind, float constant, float power, const float* image, int64_t stride, int c, int h, int w,
                                 float* values, int64_t values_stride) {
  __shared__ double partial[kThreads];
  const int n = blockIdx.x;
  const int64_t plane = int64_t(h) * w, total = plane * c;
  double s = 0;
  for (int64_t i = threadIdx.x; i < total; i += blockDim.x) {
    const int64_t ch = i / plane, p = i % plane;
    s += double(reg_value_at(kind, image + n * stride + ch * plane, h, w, int(p / w), int(p % w), constant, power));
  }
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) values[n * values_stride] = reg_finish(kind, float(partial[0]));
}

__global__ void reg_grad_kernel(RegKind kind, float constant, float power, const float* image, int64_t stride, int n, int c, int h,
                                int w, const float* values, int64_t values_stride, float weight, float* dimage,
                                int64_t dstride) {
  const int64_t plane = int64_t(h) * w, per_image = plane * c, total = per_image * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / per_image, k = i % per_image, ch = k / plane, p = k % plane;
    const float g = reg_grad_at(kind, image + img * stride + ch * plane, h, w, int(p / w), int(p % w), constant,
                                values[img * values_stride], power);
    dimage[img * dstride + k] += weight * g;
  }
}

}  // namespace

// kernel launchers

void regularizer_forward_backward_cuda(RegKind kind, float constant, const Tensor& image, const Tensor& values,
                                       float weight, const Tensor& dimage, float power) {
  reg_value_kernel<<<image.n(), kThreads, 0, current_stream()>>>(kind, constant, power, image.data(), image.batch_stride(),
                                                                 image.c(), image.h(), image.w(), values.data(),
                                                                 values.batch_stride());
  CUVIZ_CUDA_LAUNCH_CHECK();
  if (!dimage.defined()) return;
  const int64_t total = image.numel();
  const int blocks = int(std::min<int64_t>((total + kThreads - 1) / kThreads, 65535));
  reg_grad_kernel<<<blocks, kThreads, 0, current_stream()>>>(
      kind, constant, power, image.data(), image.batch_stride(), image.n(), image.c(), image.h(), image.w(), values.data(),
      values.batch_stride(), weight, dimage.data(), dimage.batch_stride());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
