// Row-major SGEMM over OpenBLAS (see kernels/gemm.h). Debian links the pthread build of
// OpenBLAS, whose threads are not OpenMP's: cuviz runs it single-threaded (SerialBlas) and splits
// products over OpenMP threads itself, here by column blocks of C, in the conv ops by image tiles.
#include "kernels/gemm.h"

#include <algorithm>

#include <cblas.h>
#include <omp.h>

namespace cuviz {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemm_parallel(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc) {
  SerialBlas serial;
  // Below ~1 M multiply-adds a second thread costs more to wake than it saves. Blocks are
  // multiples of 16 columns, the width of OpenBLAS's AVX-512 micro-kernel.
  const double macs = double(m) * n * k;
  const int blocks = macs < double(1 << 20) ? 1 : std::min(omp_get_max_threads(), (n + 15) / 16);
  if (blocks <= 1) return sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const int width = ((n + blocks - 1) / blocks + 15) / 16 * 16;
#pragma omp parallel for schedule(static) num_threads(blocks)
  for (int blk = 0; blk < blocks; ++blk) {
    const int j0 = blk * width, j1 = std::min(n, j0 + width);
    if (j0 >= j1) continue;
    // Columns j0.. of op(B): columns of B, or rows of B when it is transposed.
    const float* bj = trans_b ? b + int64_t(j0) * ldb : b + j0;
    sgemm(trans_a, trans_b, m, j1 - j0, k, alpha, a, lda, bj, ldb, beta, c + j0, ldc);
  }
}

int blas_threads() { return openblas_get_num_threads(); }

void set_blas_threads(int n) { openblas_set_num_threads(n); }

}  // namespace cuviz
