// L-BFGS's vector operations on CUDA (optim/lbfgs.h): grid-stride element-wise kernels, and
// reductions in double with a fixed tree order (per-block partial sums, then one block over the
// partials), so the same inputs give the same bits. One scalar per reduction comes back.
#include <algorithm>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "core/cuda_runtime.h"
#include "optim/lbfgs.h"

namespace cuviz {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;  // partial sums held in the scratch (plus the result)
int blocks_for(int64_t n) { return int(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks))); }

__device__ double term(int kind, const float* a, const float* b, int64_t i) {
  if (kind == 0) return double(a[i]) * double(b[i]);
  return fabs(double(a[i]));
}

__device__ double combine(int kind, double x, double y) { return kind == 2 ? fmax(x, y) : x + y; }

// Tree reduction of one block's values in shared memory; thread 0 returns the result.
__device__ double block_reduce(int kind, double v) {
  __shared__ double s[kThreads];
  s[threadIdx.x] = v;
  __syncthreads();
  for (int half = int(blockDim.x) / 2; half > 0; half /= 2) {  // blockDim.x: the emulation runs 1 thread
    if (int(threadIdx.x) < half) s[threadIdx.x] = combine(kind, s[threadIdx.x], s[threadIdx.x + half]);
    __syncthreads();
  }
  return s[0];
}

__global__ void partial_kernel(int kind, const float* a, const float* b, int64_t n, double* partial) {
  double v = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    v = combine(kind, v, term(kind, a, b, i));
  const double r = block_reduce(kind, v);
  if (threadIdx.x == 0) partial[blockIdx.x] = r;
}

__global__ void final_kernel(int kind, const double* partial, int count, double* out) {
  double v = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) v = combine(kind, v, partial[i]);
  const double r = block_reduce(kind, v);
  if (threadIdx.x == 0) *out = r;
}

__global__ void lincomb_kernel(const float* x, float a, const float* y, float* z, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    z[i] = x[i] + a * y[i];
}

__global__ void scale_kernel(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = a * x[i];
}

__global__ void sub_kernel(const float* a, const float* b, float* z, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    z[i] = a[i] - b[i];
}

}  // namespace

double vec_reduce_cuda(int kind, const float* a, const float* b, int64_t n, void* scratch) {
  auto* partial = static_cast<double*>(scratch);
  const int blocks = blocks_for(n);
  partial_kernel<<<blocks, kThreads, 0, current_stream()>>>(kind, a, b, n, partial);
  CUVIZ_CUDA_LAUNCH_CHECK();
  final_kernel<<<1, kThreads, 0, current_stream()>>>(kind, partial, blocks, partial + kMaxBlocks);
  CUVIZ_CUDA_LAUNCH_CHECK();
  double out = 0;  // on the current stream; waits for the copy (host memory involved)
  cuda_rt::memcpy_2d(&out, false, sizeof out, partial + kMaxBlocks, true, sizeof out, sizeof out, 1);
  return out;
}

void vec_lincomb_cuda(const float* x, float a, const float* y, float* z, int64_t n) {
  lincomb_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(x, a, y, z, n);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void vec_scale_cuda(float a, const float* x, float* y, int64_t n) {
  scale_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(a, x, y, n);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void vec_sub_cuda(const float* a, const float* b, float* z, int64_t n) {
  sub_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(a, b, z, n);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
