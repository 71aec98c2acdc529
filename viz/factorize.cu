// NMF, PCA and k-means on a CUDA device (viz/factorize.h). X is copied to the device once; every
// product is a cuBLAS SGEMM (row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so
// the operands swap), every sum that decides (errors, inertia) a Thrust reduction in double, and
// the per-row updates small kernels: HALS's row of W (or column of H) is independent of the others,
// so one thread updates one row through all k columns in order, exactly as the CPU loop does.
// PCA's m x m eigenproblem runs on the host (LAPACK, viz/factorize.cpp) from the device covariance.
#include <cublas_v2.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/reduce.h>
#include <thrust/transform_reduce.h>

#include <cfloat>
#include <vector>

#include "core/cuda_check.cuh"
#include "core/determinism.h"
#include "viz/factorize.h"

namespace cuviz {

namespace {

void cublas_check(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(cat("cuBLAS error: ", call, " failed at ", file, ":", line, ": status ", int(s)));
}
#define CUVIZ_CUBLAS_CHECK(call) cublas_check((call), #call, __FILE__, __LINE__)

// One handle per factorization (on the default stream, FP32 maths: no TF32, so the results match
// the CPU's SGEMMs to float rounding).
class Blas {
 public:
  Blas() {
    CUVIZ_CUBLAS_CHECK(cublasCreate(&h_));
    CUVIZ_CUBLAS_CHECK(cublasSetMathMode(h_, CUBLAS_DEFAULT_MATH));
  }
  ~Blas() { cublasDestroy(h_); }
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  // Row-major C (m x n) = alpha op(A) op(B) + beta C, as kernels/gemm.h's sgemm.
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
            float beta, float* c, int ldc) const {
    CUVIZ_CUBLAS_CHECK(cublasSgemm(h_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha,
                                   b, ldb, a, lda, &beta, c, ldc));
  }

 private:
  cublasHandle_t h_ = nullptr;
};

float* ptr(thrust::device_vector<float>& v) { return thrust::raw_pointer_cast(v.data()); }
const float* ptr(const thrust::device_vector<float>& v) { return thrust::raw_pointer_cast(v.data()); }

int blocks(int64_t n, int threads = 256) { return int((n + threads - 1) / threads); }

// sum (x - y)^2 in double.
struct SquaredDiff {
  const float* x;
  const float* y;
  __device__ double operator()(int64_t i) const {
    const double d = double(x[i]) - double(y[i]);
    return d * d;
  }
};

double squared_distance(const thrust::device_vector<float>& x, const thrust::device_vector<float>& y) {
  const int64_t n = int64_t(x.size());
  return thrust::transform_reduce(thrust::device, thrust::counting_iterator<int64_t>(0),
                                  thrust::counting_iterator<int64_t>(n), SquaredDiff{ptr(x), ptr(y)}, 0.0,
                                  thrust::plus<double>());
}

// Below the smallest normal float: 0 (as viz/factorize.cpp's flush; same factors on both sides).
__device__ float flush(float v) { return v < FLT_MIN ? 0.f : v; }

// Multiplicative update: v[e] *= num[e] / den[e], a zero denominator replaced by float epsilon.
__global__ void mu_kernel(int64_t count, float* v, const float* num, const float* den) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < count; e += int64_t(gridDim.x) * blockDim.x) {
    const float d = den[e];
    v[e] = flush(v[e] * (num[e] / (d == 0.f ? FLT_EPSILON : d)));
  }
}

// HALS on W (n x k): thread i updates row i, columns j = 0..k-1 in order, with A = X H^T (n x k)
// and B = H H^T (k x k): W[i,j] <- max(0, W[i,j] + (A[i,j] - sum_l W[i,l] B[l,j]) / B[j,j]).
__global__ void hals_w_kernel(int n, int k, float* w, const float* a, const float* b) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float* wi = w + int64_t(i) * k;
  for (int j = 0; j < k; ++j) {
    const float bjj = b[j * k + j];
    if (!(bjj > 0.f)) continue;
    double s = a[int64_t(i) * k + j];
    for (int l = 0; l < k; ++l) s -= double(wi[l]) * b[l * k + j];
    wi[j] = flush(float(wi[j] + s / bjj));
  }
}

// HALS on H (k x m): thread c updates column c, rows j = 0..k-1 in order, with C = W^T X (k x m)
// and D = W^T W: H[j,c] <- max(0, H[j,c] + (C[j,c] - sum_l D[j,l] H[l,c]) / D[j,j]).
__global__ void hals_h_kernel(int m, int k, float* h, const float* c, const float* d) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= m) return;
  for (int j = 0; j < k; ++j) {
    const float djj = d[j * k + j];
    if (!(djj > 0.f)) continue;
    double s = c[int64_t(j) * m + col];
    for (int l = 0; l < k; ++l) s -= double(d[j * k + l]) * h[int64_t(l) * m + col];
    h[int64_t(j) * m + col] = flush(float(h[int64_t(j) * m + col] + s / djj));
  }
}

// Column means of X (n x m), one thread per column, summed in double.
__global__ void column_mean_kernel(int n, int m, const float* x, float* mean) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m) return;
  double s = 0;
  for (int i = 0; i < n; ++i) s += x[int64_t(i) * m + j];
  mean[j] = float(s / n);
}

__global__ void center_kernel(int64_t count, int m, const float* x, const float* mean, float* xc) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < count; e += int64_t(gridDim.x) * blockDim.x)
    xc[e] = x[e] - mean[e % m];
}

// ||c_q||^2 per centre, in double.
__global__ void row_norms_kernel(int k, int m, const float* c, double* norms) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= k) return;
  double s = 0;
  for (int j = 0; j < m; ++j) s += double(c[int64_t(q) * m + j]) * c[int64_t(q) * m + j];
  norms[q] = s;
}

// Nearest centre per row by ||c||^2 - 2 x.c (dots = X C^T, n x k), and the exact squared distance
// to it from the data.
__global__ void assign_kernel(int n, int m, int k, const float* x, const float* centers, const float* dots,
                              const double* norms, int* labels, double* dist) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int best = 0;
  double best_d = 1e300;
  for (int q = 0; q < k; ++q) {
    const double dq = norms[q] - 2.0 * dots[int64_t(i) * k + q];
    if (dq < best_d) best_d = dq, best = q;
  }
  labels[i] = best;
  double s = 0;
  for (int j = 0; j < m; ++j) {
    const double t = double(x[int64_t(i) * m + j]) - centers[int64_t(best) * m + j];
    s += t * t;
  }
  dist[i] = s;
}

// Member sums and counts per centre (double atomics: the order of the additions, and so the
// last bits of a sum, depend on scheduling; see accumulate_ordered_kernel).
__global__ void accumulate_kernel(int n, int m, const float* x, const int* labels, double* sums, int* counts) {
  const int64_t total = int64_t(n) * m;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int i = int(e / m), j = int(e % m);
    const int q = labels[i];
    atomicAdd(&sums[int64_t(q) * m + j], double(x[e]));
    if (j == 0) atomicAdd(&counts[q], 1);
  }
}

// The same sums in deterministic mode (core/determinism.h): one thread per (centre, column) adds
// its members in index order, so the double sums do not depend on the atomics' scheduling.
// k times the reads of the atomic version (every thread scans all labels); k is small.
__global__ void accumulate_ordered_kernel(int n, int m, int k, const float* x, const int* labels, double* sums,
                                          int* counts) {
  const int64_t total = int64_t(k) * m;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int q = int(e / m), j = int(e % m);
    double s = 0;
    int count = 0;
    for (int i = 0; i < n; ++i)
      if (labels[i] == q) s += double(x[int64_t(i) * m + j]), ++count;
    sums[e] = s;
    if (j == 0) counts[q] = count;
  }
}

// Centre = mean of its members; an empty cluster keeps its centre.
__global__ void centers_kernel(int k, int m, const double* sums, const int* counts, float* centers) {
  const int64_t total = int64_t(k) * m;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int q = int(e / m);
    if (counts[q] > 0) centers[e] = float(sums[e] / counts[q]);
  }
}

Matrix download(const thrust::device_vector<float>& v, int rows, int cols) {
  Matrix out(rows, cols);
  thrust::copy(v.begin(), v.end(), out.data.begin());
  return out;
}

}  // namespace

NmfResult nmf_cuda(const Matrix& xh, const NmfOptions& o, Matrix w0, Matrix h0) {
  const int n = xh.rows, m = xh.cols, k = o.k;
  Blas blas;
  thrust::device_vector<float> x(xh.data.begin(), xh.data.end()), w(w0.data.begin(), w0.data.end()),
      h(h0.data.begin(), h0.data.end());
  thrust::device_vector<float> wh(size_t(n) * m), a(size_t(n) * k), b(size_t(k) * k), c(size_t(k) * m),
      d(size_t(k) * k), wb(size_t(n) * k), dh(size_t(k) * m);
  auto error = [&] {
    blas.gemm(false, false, n, m, k, 1.f, ptr(w), k, ptr(h), m, 0.f, ptr(wh), m);
    return std::sqrt(squared_distance(x, wh));
  };
  NmfResult r;
  r.errors.push_back(error());
  for (int t = 1; t <= o.max_iter; ++t) {
    // W with H fixed: A = X H^T, B = H H^T.
    blas.gemm(false, true, n, k, m, 1.f, ptr(x), m, ptr(h), m, 0.f, ptr(a), k);
    blas.gemm(false, true, k, k, m, 1.f, ptr(h), m, ptr(h), m, 0.f, ptr(b), k);
    if (o.solver == NmfSolver::mu) {
      blas.gemm(false, false, n, k, k, 1.f, ptr(w), k, ptr(b), k, 0.f, ptr(wb), k);
      mu_kernel<<<blocks(int64_t(n) * k), 256>>>(int64_t(n) * k, ptr(w), ptr(a), ptr(wb));
    } else {
      hals_w_kernel<<<blocks(n), 256>>>(n, k, ptr(w), ptr(a), ptr(b));
    }
    CUVIZ_CUDA_LAUNCH_CHECK();
    // H with W fixed: C = W^T X, D = W^T W.
    blas.gemm(true, false, k, m, n, 1.f, ptr(w), k, ptr(x), m, 0.f, ptr(c), m);
    blas.gemm(true, false, k, k, n, 1.f, ptr(w), k, ptr(w), k, 0.f, ptr(d), k);
    if (o.solver == NmfSolver::mu) {
      blas.gemm(false, false, k, m, k, 1.f, ptr(d), k, ptr(h), m, 0.f, ptr(dh), m);
      mu_kernel<<<blocks(int64_t(k) * m), 256>>>(int64_t(k) * m, ptr(h), ptr(c), ptr(dh));
    } else {
      hals_h_kernel<<<blocks(m), 256>>>(m, k, ptr(h), ptr(c), ptr(d));
    }
    CUVIZ_CUDA_LAUNCH_CHECK();
    r.errors.push_back(error());
    r.iterations = t;
    if (nmf_should_stop(r.errors, t, o.tol)) {
      r.converged = true;
      break;
    }
  }
  r.W = download(w, n, k);
  r.H = download(h, k, m);
  return r;
}

PcaResult pca_cuda(const Matrix& xh, const PcaOptions& o) {
  const int n = xh.rows, m = xh.cols, k = o.k;
  Blas blas;
  thrust::device_vector<float> x(xh.data.begin(), xh.data.end()), mean(static_cast<size_t>(m)), xc(size_t(n) * m),
      cov(size_t(m) * m);
  column_mean_kernel<<<blocks(m), 256>>>(n, m, ptr(x), ptr(mean));
  CUVIZ_CUDA_LAUNCH_CHECK();
  center_kernel<<<blocks(int64_t(n) * m), 256>>>(int64_t(n) * m, m, ptr(x), ptr(mean), ptr(xc));
  CUVIZ_CUDA_LAUNCH_CHECK();
  blas.gemm(true, false, m, m, n, 1.f / float(n - 1), ptr(xc), m, ptr(xc), m, 0.f, ptr(cov), m);
  const Matrix cf = download(cov, m, m);
  std::vector<double> c(size_t(m) * m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) c[size_t(i) * m + j] = 0.5 * (double(cf(i, j)) + cf(j, i));
  PcaResult r;
  r.mean.resize(static_cast<size_t>(m));
  thrust::copy(mean.begin(), mean.end(), r.mean.begin());
  pca_from_covariance(c, m, k, r);
  thrust::device_vector<float> comp(r.components.data.begin(), r.components.data.end()), scores(size_t(n) * k);
  blas.gemm(false, true, n, k, m, 1.f, ptr(xc), m, ptr(comp), m, 0.f, ptr(scores), k);
  r.scores = download(scores, n, k);
  return r;
}

KmeansResult kmeans_cuda(const Matrix& xh, const KmeansOptions& o, Matrix c0) {
  const int n = xh.rows, m = xh.cols, k = o.k;
  Blas blas;
  thrust::device_vector<float> x(xh.data.begin(), xh.data.end()), centers(c0.data.begin(), c0.data.end()),
      dots(size_t(n) * k);
  thrust::device_vector<double> norms(static_cast<size_t>(k)), dist(static_cast<size_t>(n)), sums(size_t(k) * m);
  thrust::device_vector<int> labels(static_cast<size_t>(n)), counts(static_cast<size_t>(k));
  auto assign = [&] {
    blas.gemm(false, true, n, k, m, 1.f, ptr(x), m, ptr(centers), m, 0.f, ptr(dots), k);
    row_norms_kernel<<<blocks(k), 256>>>(k, m, ptr(centers), thrust::raw_pointer_cast(norms.data()));
    CUVIZ_CUDA_LAUNCH_CHECK();
    assign_kernel<<<blocks(n), 256>>>(n, m, k, ptr(x), ptr(centers), ptr(dots), thrust::raw_pointer_cast(norms.data()),
                                      thrust::raw_pointer_cast(labels.data()), thrust::raw_pointer_cast(dist.data()));
    CUVIZ_CUDA_LAUNCH_CHECK();
    return thrust::reduce(thrust::device, dist.begin(), dist.end(), 0.0, thrust::plus<double>());
  };
  KmeansResult r;
  r.objectives.push_back(assign());
  r.labels.resize(static_cast<size_t>(n));
  thrust::copy(labels.begin(), labels.end(), r.labels.begin());
  std::vector<int> now(static_cast<size_t>(n));
  for (int t = 1; t <= o.max_iter; ++t) {
    thrust::fill(sums.begin(), sums.end(), 0.0);
    thrust::fill(counts.begin(), counts.end(), 0);
    if (deterministic())
      accumulate_ordered_kernel<<<blocks(int64_t(k) * m), 256>>>(n, m, k, ptr(x),
                                                                 thrust::raw_pointer_cast(labels.data()),
                                                                 thrust::raw_pointer_cast(sums.data()),
                                                                 thrust::raw_pointer_cast(counts.data()));
    else
      accumulate_kernel<<<blocks(int64_t(n) * m), 256>>>(n, m, ptr(x), thrust::raw_pointer_cast(labels.data()),
                                                        thrust::raw_pointer_cast(sums.data()),
                                                        thrust::raw_pointer_cast(counts.data()));
    CUVIZ_CUDA_LAUNCH_CHECK();
    centers_kernel<<<blocks(int64_t(k) * m), 256>>>(k, m, thrust::raw_pointer_cast(sums.data()),
                                                   thrust::raw_pointer_cast(counts.data()), ptr(centers));
    CUVIZ_CUDA_LAUNCH_CHECK();
    r.iterations = t;
    r.objectives.push_back(assign());
    thrust::copy(labels.begin(), labels.end(), now.begin());
    const bool same = now == r.labels;
    r.labels = now;
    if (same) {
      r.converged = true;
      break;
    }
  }
  r.centers = download(centers, k, m);
  return r;
}

}  // namespace cuviz
