// diversity(L) on CUDA (viz/term_diversity.cpp has the maths): naive Gram kernels, one thread per
// Gram entry, since C x C x HW per image is small next to the network; fixed-order block sums, no
// atomics, everything on the current stream.
#include <algorithm>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "viz/objective_reduce.cuh"
#include "viz/term_diversity.h"

namespace cuviz {

namespace {

constexpr int kThreads = kObjectiveThreads;

// gram[k, i, j] = sum_p a_k[i, p] a_k[j, p].
__global__ void gram_kernel(const float* act, int64_t stride, int n, int c, int hw, float* gram) {
  const int64_t cc = int64_t(c) * c, total = cc * n;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int k = int(e / cc), i = int(e % cc / c), j = int(e % c);
    const float* ai = act + k * stride + int64_t(i) * hw;
    const float* aj = act + k * stride + int64_t(j) * hw;
    float s = 0.f;
    for (int p = 0; p < hw; ++p) s += ai[p] * aj[p];
    gram[e] = s;
  }
}

// One block per image: inv_norm[k] = 1 / sqrt(max(|G_k|^2, 1e-10)), then G_k *= inv_norm[k].
__global__ void gram_normalize_kernel(float* gram, int64_t cc, float* inv_norm) {
  __shared__ float inv;
  float* g = gram + blockIdx.x * cc;
  double s = 0;
  for (int64_t e = threadIdx.x; e < cc; e += blockDim.x) s += double(g[e]) * g[e];
  block_sum_to(s, inv_norm + blockIdx.x);
  __syncthreads();
  if (threadIdx.x == 0) {
    const double v = inv_norm[blockIdx.x];
    inv = float(1.0 / sqrt(v > 1e-10 ? v : 1e-10));
    inv_norm[blockIdx.x] = inv;
  }
  __syncthreads();
  for (int64_t e = threadIdx.x; e < cc; e += blockDim.x) g[e] *= inv;
}

// One block per listed (image i, slot): values[slot] = sum_{j != i} <G^_i, G^_j>.
__global__ void diversity_value_kernel(const float* gram, int n, int64_t cc, const int* pairs, float* values) {
  const int i = pairs[2 * blockIdx.x];
  double s = 0;
  for (int64_t e = threadIdx.x; e < cc; e += blockDim.x)
    for (int j = 0; j < n; ++j)
      if (j != i) s += double(gram[i * cc + e]) * gram[j * cc + e];
  block_sum_to(s, values + pairs[2 * blockIdx.x + 1]);
}

// One block per image: dG^_k = sum_j (U_k + U_j) G^_j - 2 U_k G^_k, then the normalisation's
// adjoint dG_k = (dG^_k - G^_k <G^_k, dG^_k>) inv_norm_k.
__global__ void diversity_dgram_kernel(const float* gram, const float* inv_norm, const float* u, int n, int64_t cc,
                                       float* dgram) {
  __shared__ float proj;
  const int k = blockIdx.x;
  const float* gk = gram + k * cc;
  float* dg = dgram + k * cc;
  double s = 0;
  for (int64_t e = threadIdx.x; e < cc; e += blockDim.x) {
    float v = -2.f * u[k] * gk[e];
    for (int j = 0; j < n; ++j) v += (u[k] + u[j]) * gram[j * cc + e];
    dg[e] = v;
    s += double(gk[e]) * v;
  }
  block_sum_to(s, &proj);
  __syncthreads();
  const float p = proj, inv = inv_norm[k];
  for (int64_t e = threadIdx.x; e < cc; e += blockDim.x) dg[e] = (dg[e] - p * gk[e]) * inv;
}

// grad_k[i, p] += 2 sum_j dG_k[i, j] a_k[j, p]  (dG_k is symmetric).
__global__ void diversity_grad_kernel(const float* act, int64_t stride, const float* dgram, int n, int c, int hw,
                                      float* grad, int64_t gstride) {
  const int64_t per = int64_t(c) * hw, total = per * n, cc = int64_t(c) * c;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int k = int(e / per), i = int(e % per / hw), p = int(e % hw);
    const float* dg = dgram + k * cc + int64_t(i) * c;
    const float* a = act + k * stride + p;
    float s = 0.f;
    for (int j = 0; j < c; ++j) s += dg[j] * a[int64_t(j) * hw];
    grad[k * gstride + int64_t(i) * hw + p] += 2.f * s;
  }
}

int blocks_for(int64_t total) { return int(std::min<int64_t>((total + kThreads - 1) / kThreads, 65535)); }

}  // namespace

void diversity_values_cuda(const Tensor& act, float* gram, float* inv_norm, const int* pairs, int n_pairs,
                           float* values) {
  const int n = act.n(), c = act.c(), hw = act.h() * act.w();
  const int64_t cc = int64_t(c) * c;
  gram_kernel<<<blocks_for(cc * n), kThreads, 0, current_stream()>>>(act.data(), act.batch_stride(), n, c, hw, gram);
  CUVIZ_CUDA_LAUNCH_CHECK();
  gram_normalize_kernel<<<n, kThreads, 0, current_stream()>>>(gram, cc, inv_norm);
  CUVIZ_CUDA_LAUNCH_CHECK();
  diversity_value_kernel<<<n_pairs, kThreads, 0, current_stream()>>>(gram, n, cc, pairs, values);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void diversity_seeds_cuda(const Tensor& act, const float* gram, const float* inv_norm, const float* upstream,
                          float* dgram, const Tensor& grad) {
  const int n = act.n(), c = act.c(), hw = act.h() * act.w();
  const int64_t cc = int64_t(c) * c;
  diversity_dgram_kernel<<<n, kThreads, 0, current_stream()>>>(gram, inv_norm, upstream, n, cc, dgram);
  CUVIZ_CUDA_LAUNCH_CHECK();
  diversity_grad_kernel<<<blocks_for(int64_t(c) * hw * n), kThreads, 0, current_stream()>>>(
      act.data(), act.batch_stride(), dgram, n, c, hw, grad.data(), grad.batch_stride());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
