// The tensor-core kernel's block schedule (kernels/tensor_core_tile.h) on the CPU: every element
// of a K chunk of A and B is staged by exactly one (thread, pass); the 8 warps' 16 x 16 fragments
// cover the block's 64 x 64 C tile exactly once; and a model of one K chunk that reads the staged
// arrays the way the WMMA calls of gemm::tensor_core_kernel do (the Programming Guide's meaning of
// row_major / col_major and ldm) multiplies to A B. A transposed fragment, a warp on the wrong
// sub-tile or a staging slot written twice fails here, without a GPU.
#include "kernels/tensor_core_tile.h"

#include <vector>

#include "test_util.h"

namespace cuviz::gemm {
namespace {

TEST(TensorCoreTile, StagingCoversEachChunkElementOnce) {
  std::vector<int> a(kTcBM * kTcBK, 0), b(kTcBN * kTcBK, 0);
  for (int tid = 0; tid < kTcThreads; ++tid) {
    for (int r = 0; r < kTcAPasses; ++r) {
      const TcCell c = tc_a_cell(tid, r);
      ASSERT_TRUE(c.row >= 0 && c.row < kTcBM && c.col >= 0 && c.col < kTcBK) << "A, thread " << tid;
      ++a[c.row * kTcBK + c.col];
    }
    for (int r = 0; r < kTcBPasses; ++r) {
      const TcCell c = tc_b_cell(tid, r);
      ASSERT_TRUE(c.row >= 0 && c.row < kTcBN && c.col >= 0 && c.col < kTcBK) << "B, thread " << tid;
      ASSERT_EQ(c.row, tc_b_cell(tid, 0).row) << "a thread's B column (its Col) changes between passes";
      ++b[c.row * kTcBK + c.col];
    }
  }
  for (int e = 0; e < kTcBM * kTcBK; ++e) EXPECT_EQ(a[e], 1) << "As element " << e;
  for (int e = 0; e < kTcBN * kTcBK; ++e) EXPECT_EQ(b[e], 1) << "Bs element " << e;
}

TEST(TensorCoreTile, WarpFragmentsCoverTheCTileOnce) {
  std::vector<int> c(kTcBM * kTcBN, 0);
  for (int warp = 0; warp < kTcThreads / 32; ++warp) {
    const TcCell o = tc_warp_origin(warp);
    EXPECT_EQ(o.row % 16, 0);
    EXPECT_EQ(o.col % 16, 0);
    for (int i = 0; i < kTcWarpM / 16; ++i)
      for (int r = 0; r < 16; ++r)
        for (int q = 0; q < kTcWarpN; ++q) {
          const int row = o.row + 16 * i + r, col = o.col + q;
          ASSERT_TRUE(row < kTcBM && col < kTcBN) << "warp " << warp;
          ++c[row * kTcBN + col];
        }
  }
  for (int e = 0; e < kTcBM * kTcBN; ++e) EXPECT_EQ(c[e], 1) << "C element " << e;
}

// One K chunk through the kernel's data flow, for an MMA depth (16 for BF16, 8 for TF32) and a
// row padding of As/Bs: stage with tc_a_cell/tc_b_cell into As[m][k] and Bs[n][k]; per warp and
// fragment, matrix_a row_major at &As[wm + 16 i][kk] (element (i, k) at p[i*ldm + k]), matrix_b
// col_major at &Bs[wn][kk] (element (k, j) at p[j*ldm + k]), accumulate, store mem_row_major at
// &Cs[wm + 16 i][wn]. Small integers keep every sum exact.
void check_chunk(int mma_k, int pad) {
  const int ld = kTcBK + pad, ldc = kTcBN + 4;
  std::vector<double> A(kTcBM * kTcBK), B(kTcBK * kTcBN);  // A m x k, B k x n, row-major
  for (int e = 0; e < kTcBM * kTcBK; ++e) A[e] = double((e * 7) % 13 - 6);
  for (int e = 0; e < kTcBK * kTcBN; ++e) B[e] = double((e * 5) % 11 - 5);
  std::vector<double> As(kTcBM * ld, 1e9), Bs(kTcBN * ld, 1e9), Cs(kTcBM * ldc, 1e9);  // 1e9: never staged
  for (int tid = 0; tid < kTcThreads; ++tid) {
    for (int r = 0; r < kTcAPasses; ++r) {
      const TcCell c = tc_a_cell(tid, r);
      As[c.row * ld + c.col] = A[c.row * kTcBK + c.col];
    }
    for (int r = 0; r < kTcBPasses; ++r) {
      const TcCell c = tc_b_cell(tid, r);  // Bs[n][k] = B(k, n)
      Bs[c.row * ld + c.col] = B[c.col * kTcBN + c.row];
    }
  }
  for (int warp = 0; warp < kTcThreads / 32; ++warp) {
    const TcCell o = tc_warp_origin(warp);
    for (int f = 0; f < kTcWarpM / 16; ++f) {
      double acc[16][16] = {};
      for (int kk = 0; kk < kTcBK; kk += mma_k) {
        const double* pa = &As[(o.row + 16 * f) * ld + kk];
        const double* pb = &Bs[o.col * ld + kk];
        for (int i = 0; i < 16; ++i)
          for (int j = 0; j < 16; ++j)
            for (int k = 0; k < mma_k; ++k) acc[i][j] += pa[i * ld + k] * pb[j * ld + k];
      }
      double* pc = &Cs[(o.row + 16 * f) * ldc + o.col];
      for (int i = 0; i < 16; ++i)
        for (int j = 0; j < 16; ++j) pc[i * ldc + j] = acc[i][j];
    }
  }
  for (int m = 0; m < kTcBM; ++m)
    for (int n = 0; n < kTcBN; ++n) {
      double want = 0;
      for (int k = 0; k < kTcBK; ++k) want += A[m * kTcBK + k] * B[k * kTcBN + n];
      ASSERT_EQ(Cs[m * ldc + n], want) << "C(" << m << ", " << n << "), mma k " << mma_k;
    }
}

TEST(TensorCoreTile, WmmaModelOfOneChunkMultiplies) {
  check_chunk(16, 8);  // BF16: m16n16k16, ldm 24
  check_chunk(8, 4);   // TF32: m16n16k8 twice, ldm 20
}

}  // namespace
}  // namespace cuviz::gemm
