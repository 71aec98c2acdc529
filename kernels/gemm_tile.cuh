// The shared-memory tiled GEMM behind every matrix-shaped CUDA kernel (conv2d forward,
// backward-data and backward-weight as implicit GEMMs, linear):  C[m, n] = sum_k A(m, k) B(k, n),
// one independent product per blockIdx.z. A "problem" supplies the operands element by element,
// so convolutions read their input patches straight from the tensors (no im2col buffer).
#pragma once

#include <algorithm>

#include "kernels/cuda_check.cuh"
#include "kernels/cuda_context.cuh"

namespace cuviz::gemm {

// What every problem has: its size and, by default, the whole K range for every z. A problem
// derives from this and adds (all __device__, called only with in-range indices):
//   struct Col;                       per-column state computed once per thread (e.g. a patch origin)
//   Col b_col(int z, int n) const;    state of column n of B
//   float a(int z, int m, int k) const;
//   float b(const Col&, int k) const;
//   void store(int z, int m, int n, float acc) const;   the epilogue (bias, ReLU, layout)
// and may hide k_range to split K across z (split-K).
struct Dims {
  int M = 0, N = 0, K = 0;
  __device__ int2 k_range(int) const { return make_int2(0, K); }
};

constexpr int kThreads = 256;
constexpr int kBK = 16;

// A BM x BN tile of C per block, K in chunks of kBK staged in shared memory; each of the 256
// threads accumulates a TM x TN micro-tile whose rows are BM/TM apart and whose columns are
// BN/TN apart, so that shared-memory reads of B and global stores are consecutive across a warp.
// Loads: thread t always loads B column t % BN (its Col is computed once) and A column k = t % kBK.
template <int BM, int BN, int TM, int TN, class P>
__global__ void __launch_bounds__(kThreads) gemm_kernel(const P p) {
  static_assert((BM / TM) * (BN / TN) == kThreads, "one micro-tile per thread");
  static_assert(kThreads % BN == 0 && kThreads % kBK == 0, "fixed load roles per thread");
  constexpr int kRowStep = BM / TM, kColStep = BN / TN;
  constexpr int kBRows = kThreads / BN, kARows = kThreads / kBK;
  __shared__ float As[kBK][BM + 1];
  __shared__ float Bs[kBK][BN];

  const int z = blockIdx.z;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int tid = threadIdx.x;
  const int tx = tid % kColStep, ty = tid / kColStep;
  const int2 kr = p.k_range(z);

  const int bn = tid % BN, bk = tid / BN;
  const bool b_ok = n0 + bn < p.N;
  const typename P::Col col = b_ok ? p.b_col(z, n0 + bn) : typename P::Col{};
  const int ak = tid % kBK, am = tid / kBK;

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  for (int k0 = kr.x; k0 < kr.y; k0 += kBK) {
    const int ka = k0 + ak;
#pragma unroll
    for (int r = 0; r < BM / kARows; ++r) {
      const int m = m0 + am + r * kARows;
      As[ak][am + r * kARows] = (m < p.M && ka < kr.y) ? p.a(z, m, ka) : 0.f;
    }
#pragma unroll
    for (int r = 0; r < kBK / kBRows; ++r) {
      const int k = k0 + bk + r * kBRows;
      Bs[bk + r * kBRows][bn] = (b_ok && k < kr.y) ? p.b(col, k) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float av[TM], bv[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) av[i] = As[kk][ty + i * kRowStep];
#pragma unroll
      for (int j = 0; j < TN; ++j) bv[j] = Bs[kk][tx + j * kColStep];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty + i * kRowStep;
    if (m >= p.M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tx + j * kColStep;
      if (n < p.N) p.store(z, m, n, acc[i][j]);
    }
  }
}

// Tile configurations, selectable for benchmarks and tests; `automatic` picks by problem size.
enum class Tile { automatic, t64x64, t128x128 };

// Blocks of 128 x 128 tiles when there are enough of them to fill the GPU twice over (132 SMs on
// an H100), else 64 x 64 tiles (four times as many blocks, less reuse per block).
inline Tile choose_tile(int M, int N, int batches) {
  const long long big = (long long)((M + 127) / 128) * ((N + 127) / 128) * batches;
  return big >= 264 ? Tile::t128x128 : Tile::t64x64;
}

// Launches the product for z = 0 .. batches-1 on the current stream (kernels/cuda_context.cuh).
template <class P>
void launch(const P& p, int batches, Tile tile = Tile::automatic) {
  if (p.M <= 0 || p.N <= 0 || batches <= 0) return;
  CUVIZ_CHECK(batches <= 65535, "gemm: ", batches, " independent products exceed the grid's z limit");
  if (tile == Tile::automatic) tile = choose_tile(p.M, p.N, batches);
  if (tile == Tile::t128x128) {
    const dim3 grid((p.N + 127) / 128, (p.M + 127) / 128, batches);
    gemm_kernel<128, 128, 8, 8, P><<<grid, kThreads, 0, current_stream()>>>(p);
  } else {
    const dim3 grid((p.N + 63) / 64, (p.M + 63) / 64, batches);
    gemm_kernel<64, 64, 4, 4, P><<<grid, kThreads, 0, current_stream()>>>(p);
  }
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz::gemm
