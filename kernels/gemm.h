// Row-major single-precision GEMM on the CPU, a thin wrapper over OpenBLAS cblas_sgemm:
//   C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C,  op(X) = X or X^T.
// Leading dimensions are in elements; beta = 0 overwrites C (NaNs in C are not propagated).
#pragma once

namespace cuviz {

// C = alpha * op(A) op(B) + beta * C, all row-major. trans_a/trans_b select op.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc);

// Threads OpenBLAS uses for one GEMM (it runs its own pthread pool, not OpenMP's).
int blas_threads();
// Sets the OpenBLAS thread count for every later GEMM (process-wide).
void set_blas_threads(int n);

}  // namespace cuviz
