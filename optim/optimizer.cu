// Optimizers on CUDA: one fused element-wise kernel per update (the shared adam_update /
// sgd_update of optim/optimizer.h), and a per-segment gradient normalisation whose reduction
// runs in double with a fixed tree order (deterministic).
#include <algorithm>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "optim/optimizer.h"

namespace cuviz {

namespace {

constexpr int kThreads = 256;
int blocks_for(int64_t total) { return int(std::min<int64_t>((total + kThreads - 1) / kThreads, 65535)); }

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamStep s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adam_update(p[i], g[i], m[i], v[i], s);
}

// The step's scalars from the counter in device memory: every thread computes the same values
// (a few double operations, negligible next to the update it then applies).
__global__ void adam_counted_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamConfig c,
                                    const int64_t* steps_done) {
  const AdamStep s = adam_step_at(c, *steps_done + 1);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adam_update(p[i], g[i], m[i], v[i], s);
}

__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, bool first, SgdConfig c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    sgd_update(p[i], g[i], buf[i], first, c);
}

// One block per segment: reduce, then scale the segment by 1 / (norm + 1e-8).
__global__ void normalize_kernel(GradNorm kind, float* g, int64_t len) {
  __shared__ double partial[kThreads];
  float* seg = g + blockIdx.x * len;
  double s = 0;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x)
    s += kind == GradNorm::l2 ? double(seg[i]) * seg[i] : fabs(double(seg[i]));
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const double norm = kind == GradNorm::l2 ? sqrt(partial[0]) : partial[0] / double(len);
  const float inv = float(1.0 / (norm + 1e-8));
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) seg[i] *= inv;
}

}  // namespace

// kernel launchers

void adam_update_cuda(float* p, const float* g, float* m, float* v, int64_t n, const AdamStep& s) {
  adam_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(p, g, m, v, n, s);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void adam_update_counted_cuda(float* p, const float* g, float* m, float* v, int64_t n, const AdamConfig& c,
                              const int64_t* steps_done) {
  adam_counted_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(p, g, m, v, n, c, steps_done);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void sgd_update_cuda(float* p, const float* g, float* buf, int64_t n, bool first, const SgdConfig& c) {
  sgd_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(p, g, buf, n, first, c);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void normalize_gradient_cuda(GradNorm kind, int segments, float* g, int64_t n) {
  normalize_kernel<<<segments, kThreads, 0, current_stream()>>>(kind, g, n / segments);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
