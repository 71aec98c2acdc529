// The CUDA side of kernels/elementwise.h: y = f(a) or y = f(a, b) for every element of a batch,
// one thread per element over the whole batch (grid-stride), each tensor with its own batch
// stride so channel slices of a concat work. f is a functor with a __device__ operator() that
// calls the op's CUVIZ_HD maths (relu_value, sigmoid_grad, add_value...), so the GPU runs the
// arithmetic the CPU tests check. Launched on the current stream (core/cuda_context.cuh).
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "core/tensor.h"

namespace cuviz {

template <class F>
__global__ void map_elements_kernel(const float* a, int64_t a_stride, float* y, int64_t y_stride, int64_t m, int n,
                                    F f) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / m, k = i % m;
    y[img * y_stride + k] = f(a[img * a_stride + k]);
  }
}

template <class F>
__global__ void map_elements_kernel(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* y,
                                    int64_t y_stride, int64_t m, int n, F f) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / m, k = i % m;
    y[img * y_stride + k] = f(a[img * a_stride + k], b[img * b_stride + k]);
  }
}

// Enough 256-thread blocks for one thread per element, capped (the loops are grid-stride).
inline int elementwise_blocks(int64_t total) { return int(std::min<int64_t>((total + 255) / 256, 65535)); }

template <class F>
void map_elements_cuda(const Tensor& a, const Tensor& y, F f) {
  const int64_t m = a.shape().image_size(), total = m * a.n();
  if (total == 0) return;
  map_elements_kernel<<<elementwise_blocks(total), 256, 0, current_stream()>>>(a.data(), a.batch_stride(), y.data(),
                                                                               y.batch_stride(), m, a.n(), f);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

template <class F>
void map_elements_cuda(const Tensor& a, const Tensor& b, const Tensor& y, F f) {
  const int64_t m = a.shape().image_size(), total = m * a.n();
  if (total == 0) return;
  map_elements_kernel<<<elementwise_blocks(total), 256, 0, current_stream()>>>(
      a.data(), a.batch_stride(), b.data(), b.batch_stride(), y.data(), y.batch_stride(), m, a.n(), f);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
