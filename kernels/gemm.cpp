// Row-major SGEMM over OpenBLAS (see kernels/gemm.h). Debian links the pthread build of
// OpenBLAS: its threads are not OpenMP's, so callers run one GEMM at a time and let it use
// every core rather than calling it from inside an OpenMP parallel region (oversubscription).
#include "kernels/gemm.h"

#include <cblas.h>

namespace cuviz {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

int blas_threads() { return openblas_get_num_threads(); }

void set_blas_threads(int n) { openblas_set_num_threads(n); }

}  // namespace cuviz
