// The fixed-order block reduction of the objective kernels (item terms, diversity): every thread
// of a block of kObjectiveThreads contributes one double, thread 0 writes the float sum. The tree
// order is fixed, so a value is the same on every run.
#pragma once

namespace cuviz {

constexpr int kObjectiveThreads = 256;

__device__ inline void block_sum_to(double s, float* out) {
  __shared__ double partial[kObjectiveThreads];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kObjectiveThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = float(partial[0]);
}

}  // namespace cuviz
