// Host emulation of kernels/gemm_tile.cuh (scripts/cuda-emulate.sh): the same problem contract
// (a, b_col, b, store, k_range), computed as a plain triple loop. It checks each problem's index
// maths and epilogue; the tiled kernel's shared-memory schedule is only checked on a GPU.
// launch_tensor_core rounds both operands with kernels/precision.h as the WMMA kernel stages them.
#pragma once

#include <cmath>

#include "kernels/backend.h"
#include "core/cuda_check.cuh"
#include "kernels/precision.h"

namespace cuviz::gemm {

struct Dims {
  int M = 0, N = 0, K = 0;
  int2 k_range(int) const { return make_int2(0, K); }
};

constexpr int kThreads = 256;
constexpr int kBK = 16;
enum class Tile { automatic, t64x64, t128x128 };

template <class P>
void launch(const P& p, int batches, Tile = Tile::automatic) {
  if (p.M <= 0 || p.N <= 0 || batches <= 0) return;
  CUVIZ_CHECK(batches <= 65535, "gemm: ", batches, " independent products exceed the grid's z limit");
  for (int z = 0; z < batches; ++z) {
    const int2 kr = p.k_range(z);
    for (int n = 0; n < p.N; ++n) {
      const typename P::Col col = p.b_col(z, n);
      for (int m = 0; m < p.M; ++m) {
        float acc = 0.f;
        for (int k = kr.x; k < kr.y; ++k) acc = std::fma(p.a(z, m, k), p.b(col, k), acc);
        p.store(z, m, n, acc);
      }
    }
  }
}

template <class P>
void launch_tensor_core(const P& p, int batches, Precision precision) {
  CUVIZ_CHECK(precision != Precision::fp32, "gemm: launch_tensor_core needs tf32 or bf16 (fp32 runs gemm_kernel)");
  if (p.M <= 0 || p.N <= 0 || batches <= 0) return;
  CUVIZ_CHECK(batches <= 65535, "gemm: ", batches, " independent products exceed the grid's z limit");
  auto round = [&](float v) { return precision == Precision::bf16 ? round_to_bf16(v) : round_to_tf32(v); };
  for (int z = 0; z < batches; ++z) {
    const int2 kr = p.k_range(z);
    for (int n = 0; n < p.N; ++n) {
      const typename P::Col col = p.b_col(z, n);
      for (int m = 0; m < p.M; ++m) {
        float acc = 0.f;
        for (int k = kr.x; k < kr.y; ++k) acc = std::fma(round(p.a(z, m, k)), round(p.b(col, k)), acc);
        p.store(z, m, n, acc);
      }
    }
  }
}

}  // namespace cuviz::gemm
