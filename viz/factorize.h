// Factorizations of an activation matrix X (rows = samples: spatial positions of one image, or
// images; columns = channels), for neuron groups (Olah et al. 2018, "The Building Blocks of
// Interpretability"; Lucid's ChannelReducer), activation grids and intra-class facets (Wei et al.
// 2015; Nguyen et al. 2016). Three methods, each on the CPU (OpenBLAS SGEMM + LAPACK's symmetric
// eigensolver) and on a CUDA device (cuBLAS SGEMM, Thrust reductions, a few small kernels):
//
//   NMF      X (n x m, >= 0) ~ W (n x k, >= 0) H (k x m, >= 0), minimising ||X - WH||_F^2.
//            Lee & Seung's multiplicative updates, or HALS (Cichocki & Phan 2009: exact
//            coordinate descent, one column of W / row of H at a time). Both decrease the error
//            monotonically. Init as scikit-learn's init='random': entries |N(0,1)| * sqrt(mean(X)/k),
//            seeded (viz/random.h). Order per iteration: W, then H (as scikit-learn).
//            Stops when the error's decrease over the last 10 iterations, relative to the error
//            at the init, falls below tol (scikit-learn's rule for 'mu'), or after max_iter.
//            Entries below the smallest normal float are stored as 0 (subnormals are ~100x slower).
//   PCA      the top-k eigenvectors of the covariance C = Xc^T Xc / (n - 1) of the centred data
//            Xc = X - mean: the components (k x m, rows of unit length, sign fixed so that the
//            largest |entry| is positive), their eigenvalues (explained variance) and the scores
//            Xc V^T (n x k). C is one SGEMM (on the device on a GPU); its m x m eigenproblem
//            always runs on the host in double precision (LAPACK dsyevd; m is a layer's channel
//            count, at most a few thousand, so it is milliseconds to a second).
//   k-means  Lloyd's algorithm from k-means++ seeds (Arthur & Vassilvitskii 2007: each next seed
//            drawn with probability proportional to its squared distance to the nearest seed so
//            far). Distances by ||x||^2 - 2 x.c + ||c||^2 with one SGEMM; the objective (inertia,
//            the sum of squared distances to the assigned centre) never increases. Stops when
//            no assignment changes or after max_iter; an empty cluster keeps its centre.
//
// Results are host matrices; the CUDA path copies X to the device once, iterates there and
// copies the factors back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cuviz {

// A dense row-major float matrix on the host.
struct Matrix {
  int rows = 0, cols = 0;
  std::vector<float> data;

  Matrix() = default;
  Matrix(int r, int c, float v = 0.f) : rows(r), cols(c), data(size_t(r) * size_t(c), v) {}
  float& operator()(int r, int c) { return data[size_t(r) * cols + c]; }
  float operator()(int r, int c) const { return data[size_t(r) * cols + c]; }
  const float* row(int r) const { return data.data() + size_t(r) * cols; }
};

// The activation matrix of one image of a CPU tensor {N, C, H, W}: H*W rows (positions in
// row-major h, w order) x C columns.
Matrix positions_by_channels(const Tensor& activation, int image = 0);

// ||A||_F in double.
double frobenius(const Matrix& a);
// A B (row-major, in double accumulation; for tests and checks, not for speed).
Matrix matmul(const Matrix& a, const Matrix& b);

// ---------------------------------------------------------------------------------------- NMF
enum class NmfSolver { mu, hals };
NmfSolver parse_nmf_solver(const std::string& name);  // "mu" | "hals"
std::string nmf_solver_name(NmfSolver s);

struct NmfOptions {
  int k = 6;                      // Lucid's n_groups for Building Blocks
  NmfSolver solver = NmfSolver::hals;
  int max_iter = 200;             // scikit-learn's default
  double tol = 1e-4;              // scikit-learn's default; 0: always run max_iter
  uint64_t seed = 0;
  Device device = Device::cpu;
};

struct NmfResult {
  Matrix W, H;                    // n x k, k x m, non-negative
  std::vector<double> errors;     // ||X - WH||_F: [0] at the init, [t] after iteration t
  int iterations = 0;
  bool converged = false;         // stopped by tol (false: max_iter)
  double x_norm = 0;              // ||X||_F
  double relative_error() const;  // errors.back() / ||X||_F
};

// Throws (naming the sizes) unless 1 <= k <= min(n, m), X is non-empty, finite and non-negative.
NmfResult nmf(const Matrix& x, const NmfOptions& options);

// ---------------------------------------------------------------------------------------- PCA
struct PcaOptions {
  int k = 6;
  Device device = Device::cpu;
};

struct PcaResult {
  Matrix components;                       // k x m, orthonormal rows
  Matrix scores;                           // n x k: (X - mean) components^T
  std::vector<float> mean;                 // m
  std::vector<double> explained_variance;  // k eigenvalues of the covariance, descending
  double total_variance = 0;               // trace of the covariance
};

// Throws unless 1 <= k <= min(n - 1, m) (n >= 2) and X is finite.
PcaResult pca(const Matrix& x, const PcaOptions& options);

// The eigenvalues (ascending) and eigenvectors (row i = eigenvector i) of a symmetric n x n
// matrix given row-major in double (LAPACK dsyevd); throws if LAPACK reports a failure.
void symmetric_eigen(int n, std::vector<double> a, std::vector<double>& values, std::vector<double>& vectors);

// ------------------------------------------------------------------------------------ k-means
struct KmeansOptions {
  int k = 4;
  int max_iter = 300;             // scikit-learn's default
  uint64_t seed = 0;
  Device device = Device::cpu;
};

struct KmeansResult {
  Matrix centers;                 // k x m
  std::vector<int> labels;        // n, in [0, k)
  std::vector<double> objectives; // inertia after each assignment step ([0]: at the k-means++ seeds)
  int iterations = 0;             // Lloyd iterations (centre updates) run
  bool converged = false;         // no assignment changed
  double inertia() const { return objectives.back(); }
};

// Throws unless 1 <= k <= n and X is finite.
KmeansResult kmeans(const Matrix& x, const KmeansOptions& options);
// The k-means++ seeds (row indices of X), as kmeans() draws them.
std::vector<int> kmeans_plus_plus(const Matrix& x, int k, uint64_t seed);

// ----------------------------------------------------------------- CUDA (viz/factorize.cu)
// Defined in viz/factorize.cu, or throwing in viz/factorize_disabled.cpp without CUDA. Arguments
// are checked by the functions above.
NmfResult nmf_cuda(const Matrix& x, const NmfOptions& options, Matrix w, Matrix h);
PcaResult pca_cuda(const Matrix& x, const PcaOptions& options);
KmeansResult kmeans_cuda(const Matrix& x, const KmeansOptions& options, Matrix centers);

// Shared by both backends: the NMF init, and the eigen step of PCA from a covariance.
void nmf_init(const Matrix& x, int k, uint64_t seed, Matrix& w, Matrix& h);
// Fills components, explained_variance and total_variance from the m x m covariance.
void pca_from_covariance(const std::vector<double>& cov, int m, int k, PcaResult& r);
// The stopping rule of NMF: true when iteration t (1-based, a multiple of 10) ends the run.
bool nmf_should_stop(const std::vector<double>& errors, int t, double tol);

}  // namespace cuviz
