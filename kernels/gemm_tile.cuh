// The shared-memory tiled GEMM behind every matrix-shaped CUDA kernel (conv2d forward,
// backward-data and backward-weight as implicit GEMMs, linear):  C[m, n] = sum_k A(m, k) B(k, n),
// one independent product per blockIdx.z. A "problem" supplies the operands element by element,
// so convolutions read their input patches straight from the tensors (no im2col buffer).
// Two kernels run a problem: gemm_kernel in FP32 on the CUDA cores, and tensor_core_kernel with
// operands rounded to TF32 or BF16 on the tensor cores (FP32 accumulation), through the same
// problem struct and therefore the same epilogues.
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>

#include "kernels/backend.h"
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/precision.h"
#include "kernels/tensor_core_tile.h"

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

// Launches the product for z = 0 .. batches-1 on the current stream (core/cuda_context.cuh).
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

// ---- tensor cores (TF32 / BF16 operands, FP32 accumulation) --------------------------------------
//
// The same product on the tensor cores through WMMA (nvcuda::wmma): each warp multiplies 16 x 16
// tiles of A by 16 x 16 tiles of B (BF16: one 16x16x16 mma per kTcBK = 16 chunk of K; TF32: two
// 16x16x8 mmas) into 16 x 16 FP32 accumulator tiles. A block computes a 64 x 64 tile of C with 8
// warps in a 2 x 4 grid, each owning 32 x 16 of C (two accumulator tiles).
//   Staging: as in gemm_kernel, every thread loads fixed elements of the A and B chunks through
// p.a and p.b (zero outside M, N and the K range), rounds them (BF16: bf16_bits of
// kernels/precision.h, bit for bit __float2bfloat16_rn; TF32: __float_to_tf32, which
// round_to_tf32 reproduces on the CPU, so both see the same operands) and writes them to shared
// memory: As[m][k] row-major (matrix_a row_major) and Bs[n][k] (matrix_b col_major, B being K x N).
//   Epilogue: the accumulators go through shared memory (Cs[m][n]) and then every thread stores
// consecutive columns through p.store, so bias, fused ReLU and output layouts are the FP32 path's.
// Products of rounded values are exact; the sums are FP32 (in the tensor cores' order), so the
// result matches a rounded-input FP32 GEMM up to accumulation order.

// Element type, WMMA shape and conversion per precision.
template <Precision kPrec>
struct TcTraits;

template <>
struct TcTraits<Precision::bf16> {
  using Elem = __nv_bfloat16;
  using AType = __nv_bfloat16;  // fragment element type
  static constexpr int kMmaK = 16;
  static constexpr int kPad = 8;  // row padding (elements): ldm must be a multiple of 8 for 16-bit types
  __device__ static Elem convert(float v) { return __ushort_as_bfloat16(bf16_bits(v)); }
};

// The Programming Guide leaves TF32's bit layout inside a float implementation-defined and asks
// that WMMA operands be converted with __float_to_tf32 (cvt.rna.tf32.f32). Converting before
// staging is the same as converting the loaded fragment element by element: load_matrix_sync only
// moves the bits. round_to_tf32 (kernels/precision.h) is the CPU's model of this conversion.
template <>
struct TcTraits<Precision::tf32> {
  using Elem = float;  // TF32 operands are stored as floats (the fragment's storage type)
  using AType = nvcuda::wmma::precision::tf32;
  static constexpr int kMmaK = 8;
  static constexpr int kPad = 4;  // ldm a multiple of 4 for 32-bit types
  __device__ static Elem convert(float v) { return nvcuda::wmma::__float_to_tf32(v); }
};

// Tile sizes and the block schedule (which thread stages which element, which warp owns which C
// tile): kernels/tensor_core_tile.h, shared with a CPU test of its coverage.
static_assert(kTcThreads == kThreads, "the tensor-core kernel launches kThreads threads");

template <Precision kPrec, class P>
__global__ void __launch_bounds__(kThreads) tensor_core_kernel(const P p) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  namespace wmma = nvcuda::wmma;
  using T = TcTraits<kPrec>;
  using Elem = typename T::Elem;
  constexpr int kLd = kTcBK + T::kPad;
  constexpr int kFragsM = kTcWarpM / 16;
  constexpr int kLdC = kTcBN + 4;
  // The WMMA rules for load/store_matrix_sync: ldm (elements) a multiple of 16 bytes (8 for BF16,
  // 4 for floats), and a 256-bit (32-byte) aligned pointer. The arrays are 128-byte aligned and
  // the fragments start at rows wm + 16 i or wn (multiples of 16) and at K offsets kk (multiples of
  // kMmaK) of As and Bs, and at row wm + 16 i, column wn of Cs: each of those steps is a multiple
  // of 32 bytes.
  static_assert(kLd * sizeof(Elem) % 16 == 0 && kLdC * sizeof(float) % 16 == 0, "ldm: multiple of 16 bytes");
  static_assert(16 * kLd * sizeof(Elem) % 32 == 0 && T::kMmaK * sizeof(Elem) % 32 == 0,
                "As/Bs fragments 32-byte aligned");
  static_assert(16 * kLdC * sizeof(float) % 32 == 0 && kTcWarpN * sizeof(float) % 32 == 0,
                "Cs fragments 32-byte aligned");
  static_assert(2 * kTcBM * kLd * sizeof(Elem) + kTcBM * kLdC * sizeof(float) <= 48 * 1024, "static shared memory");
  __shared__ __align__(128) Elem As[kTcBM][kLd];
  __shared__ __align__(128) Elem Bs[kTcBN][kLd];
  __shared__ __align__(128) float Cs[kTcBM][kLdC];

  const int z = blockIdx.z;
  const int m0 = blockIdx.y * kTcBM, n0 = blockIdx.x * kTcBN;
  const int tid = threadIdx.x;
  const TcCell wo = tc_warp_origin(tid / 32);
  const int wm = wo.row, wn = wo.col;
  const int2 kr = p.k_range(z);

  const int bn = tc_b_cell(tid, 0).row;  // the same column of B in every pass
  const bool b_ok = n0 + bn < p.N;
  const typename P::Col col = b_ok ? p.b_col(z, n0 + bn) : typename P::Col{};

  wmma::fragment<wmma::accumulator, 16, 16, T::kMmaK, float> acc[kFragsM];
#pragma unroll
  for (int i = 0; i < kFragsM; ++i) wmma::fill_fragment(acc[i], 0.f);

  for (int k0 = kr.x; k0 < kr.y; k0 += kTcBK) {
#pragma unroll
    for (int r = 0; r < kTcAPasses; ++r) {
      const TcCell c = tc_a_cell(tid, r);
      const int m = m0 + c.row, k = k0 + c.col;
      As[c.row][c.col] = T::convert((m < p.M && k < kr.y) ? p.a(z, m, k) : 0.f);
    }
#pragma unroll
    for (int r = 0; r < kTcBPasses; ++r) {
      const TcCell c = tc_b_cell(tid, r);
      const int k = k0 + c.col;
      Bs[c.row][c.col] = T::convert((b_ok && k < kr.y) ? p.b(col, k) : 0.f);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTcBK; kk += T::kMmaK) {
      wmma::fragment<wmma::matrix_b, 16, 16, T::kMmaK, typename T::AType, wmma::col_major> bf;
      wmma::load_matrix_sync(bf, &Bs[wn][kk], kLd);
#pragma unroll
      for (int i = 0; i < kFragsM; ++i) {
        wmma::fragment<wmma::matrix_a, 16, 16, T::kMmaK, typename T::AType, wmma::row_major> af;
        wmma::load_matrix_sync(af, &As[wm + 16 * i][kk], kLd);
        wmma::mma_sync(acc[i], af, bf, acc[i]);
      }
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < kFragsM; ++i)
    wmma::store_matrix_sync(&Cs[wm + 16 * i][wn], acc[i], kLdC, wmma::mem_row_major);
  __syncthreads();
  // Consecutive threads take consecutive columns of a row: coalesced stores for row-major outputs.
  for (int e = tid; e < kTcBM * kTcBN; e += kThreads) {
    const int m = m0 + e / kTcBN, n = n0 + e % kTcBN;
    if (m < p.M && n < p.N) p.store(z, m, n, Cs[e / kTcBN][e % kTcBN]);
  }
#else
  __trap();  // WMMA with TF32/BF16 operands needs sm_80 or newer (cuviz builds for sm_90)
#endif
}

// Launches the product for z = 0 .. batches-1 on the tensor cores, operands rounded to `precision`
// (tf32 or bf16), on the current stream.
template <class P>
void launch_tensor_core(const P& p, int batches, Precision precision) {
  CUVIZ_CHECK(precision != Precision::fp32, "gemm: launch_tensor_core needs tf32 or bf16 (fp32 runs gemm_kernel)");
  if (p.M <= 0 || p.N <= 0 || batches <= 0) return;
  CUVIZ_CHECK(batches <= 65535, "gemm: ", batches, " independent products exceed the grid's z limit");
  const dim3 grid((p.N + kTcBN - 1) / kTcBN, (p.M + kTcBM - 1) / kTcBM, batches);
  if (precision == Precision::bf16)
    tensor_core_kernel<Precision::bf16, P><<<grid, kThreads, 0, current_stream()>>>(p);
  else
    tensor_core_kernel<Precision::tf32, P><<<grid, kThreads, 0, current_stream()>>>(p);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz::gemm
