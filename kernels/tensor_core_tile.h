// The block schedule of gemm::tensor_core_kernel (kernels/gemm_tile.cuh) as plain functions, so
// that a CPU test (tests/kernels/tensor_core_tile_test.cpp) can check what only a GPU would
// otherwise show: that the 256 threads stage every element of the A and B chunks exactly once,
// that the 8 warps' accumulator fragments cover the 64 x 64 C tile exactly once, and that
// WMMA fragments read from these shared-memory layouts multiply to A B.
#pragma once

#include "core/host_device.h"

namespace cuviz::gemm {

constexpr int kTcThreads = 256;              // 8 warps
constexpr int kTcBM = 64, kTcBN = 64, kTcBK = 16;  // C tile of a block, K chunk staged per step
constexpr int kTcWarpM = 32, kTcWarpN = 16;  // C tile of one warp: 2 x 1 fragments of 16 x 16
constexpr int kTcWarpsN = kTcBN / kTcWarpN;  // warps along N (4); along M: kTcBM / kTcWarpM (2)
constexpr int kTcARows = kTcThreads / kTcBK, kTcBRows = kTcThreads / kTcBN;  // rows staged per pass
constexpr int kTcAPasses = kTcBM / kTcARows, kTcBPasses = kTcBK / kTcBRows;  // passes per chunk
static_assert((kTcBM / kTcWarpM) * kTcWarpsN * 32 == kTcThreads, "one C tile per warp");
static_assert(kTcThreads % kTcBN == 0 && kTcThreads % kTcBK == 0, "fixed load roles per thread");

struct TcCell {
  int row, col;
};

// Pass r of thread tid stages A(m0 + row, k0 + col) into As[row][col] (row-major m x k): the 16
// threads of a half-warp take consecutive k of one row.
CUVIZ_HD constexpr TcCell tc_a_cell(int tid, int r) { return {tid / kTcBK + r * kTcARows, tid % kTcBK}; }

// Pass r of thread tid stages B(k0 + col, n0 + row) into Bs[row][col] (n x k, i.e. B column-major):
// a thread always handles column n = tid % kTcBN (its Col is computed once).
CUVIZ_HD constexpr TcCell tc_b_cell(int tid, int r) { return {tid % kTcBN, tid / kTcBN + r * kTcBRows}; }

// Top-left corner (row, column) of warp `warp`'s 32 x 16 C tile within the block's 64 x 64; its
// fragments i = 0, 1 start at rows row + 16 i.
CUVIZ_HD constexpr TcCell tc_warp_origin(int warp) {
  return {(warp / kTcWarpsN) * kTcWarpM, (warp % kTcWarpsN) * kTcWarpN};
}

}  // namespace cuviz::gemm
