// Row-major single-precision GEMM on the CPU, a thin wrapper over OpenBLAS cblas_sgemm:
//   C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C,  op(X) = X or X^T.
// Leading dimensions are in elements; beta = 0 overwrites C (NaNs in C are not propagated).
// cuviz threads its CPU ops with OpenMP and calls OpenBLAS single-threaded only (SerialBlas).
#pragma once

namespace cuviz {

// C = alpha * op(A) op(B) + beta * C, all row-major. trans_a/trans_b select op. Runs on the
// calling thread when OpenBLAS is single-threaded (inside SerialBlas).
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc);

// The same product split into column blocks of C over the OpenMP threads, each block one
// single-threaded OpenBLAS call; small products run on the calling thread.
void sgemm_parallel(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc);

// Threads OpenBLAS uses for one GEMM (it runs its own pthread pool, not OpenMP's).
int blas_threads();
// Sets the OpenBLAS thread count for every later GEMM (process-wide).
void set_blas_threads(int n);

// While alive, OpenBLAS runs single-threaded. cuviz's ops split their work over OpenMP threads
// themselves: a pthread-OpenBLAS GEMM inside them would oversubscribe the cores, and OpenBLAS
// workers woken by one multi-threaded call keep spinning for a while afterwards, stealing the
// cores from the OpenMP threads of the next op.
class SerialBlas {
 public:
  SerialBlas() : saved_(blas_threads()) {
    if (saved_ != 1) set_blas_threads(1);
  }
  ~SerialBlas() {
    if (saved_ != 1) set_blas_threads(saved_);
  }
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int saved_;
};

}  // namespace cuviz
