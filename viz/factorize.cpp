// NMF, PCA and k-means on the CPU (viz/factorize.h): the products are OpenBLAS SGEMMs split over
// the OpenMP threads (kernels/gemm.h), the per-row updates OpenMP loops, every sum that decides
// (errors, objectives, stopping) accumulated in double.
#include "viz/factorize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "kernels/gemm.h"
#include "viz/random.h"

// LAPACK's symmetric eigensolver (divide and conquer), from OpenBLAS, which bundles LAPACK; the two
// trailing arguments are the Fortran lengths of the character arguments.
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info, size_t, size_t);

namespace cuviz {

namespace {

inline constexpr uint64_t kStreamNmfInit = 0x4e4d4649ULL;     // "NMFI"
inline constexpr uint64_t kStreamKmeansInit = 0x4b4d4e53ULL;  // "KMNS"

// NMF's factors are stored flushed to zero below the smallest normal float: the multiplicative
// updates drive entries towards 0 geometrically, into the subnormal range, where every operation
// on them costs ~100x on x86 (the MU run of the bench took 7x longer) while their contribution to
// W H is below 1e-38. (scikit-learn keeps them; its MU factors hold entries of 1e-45.)
inline float flush(float v) { return v < std::numeric_limits<float>::min() ? 0.f : v; }

void check_finite(const Matrix& x, const char* what) {
  CUVIZ_CHECK(x.rows > 0 && x.cols > 0, what, ": the matrix is empty (", x.rows, " x ", x.cols, ")");
  for (float v : x.data) CUVIZ_CHECK(std::isfinite(v), what, ": the matrix holds a NaN or an infinity");
}

// ||X - W H||_F, one row of W H at a time (k AXPYs of H's rows into the row, in L1), so X is read
// once and W H is never stored: row i's squared differences are summed in float over blocks of
// 64 columns (vectorised: `omp simd` allows the reordering), the blocks and rows in double.
double nmf_error(const Matrix& x, const Matrix& w, const Matrix& h) {
  const int n = x.rows, m = x.cols, k = w.cols;
  // One sum per row, added in row order afterwards: an OpenMP reduction adds the threads' partials
  // in the order they finish, and this value decides when NMF stops.
  std::vector<double> row_sums(static_cast<size_t>(n));
#pragma omp parallel
  {
    std::vector<float> row(static_cast<size_t>(m));
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      const float* xi = x.row(i);
      float* r = row.data();
      std::copy(xi, xi + m, r);
      for (int q = 0; q < k; ++q) {
        const float wq = w(i, q);
        if (wq == 0.f) continue;
        const float* hq = h.row(q);
#pragma omp simd
        for (int c = 0; c < m; ++c) r[c] -= wq * hq[c];
      }
      double s = 0;
      for (int c0 = 0; c0 < m; c0 += 64) {
        const int c1 = std::min(m, c0 + 64);
        float part = 0.f;
#pragma omp simd reduction(+ : part)
        for (int c = c0; c < c1; ++c) part += r[c] * r[c];
        s += part;
      }
      row_sums[static_cast<size_t>(i)] = s;
    }
  }
  double total = 0;
  for (const double s : row_sums) total += s;
  return std::sqrt(total);
}

}  // namespace

Matrix positions_by_channels(const Tensor& a, int image) {
  CUVIZ_CHECK(a.device() == Device::cpu, "positions_by_channels: the activation must be on the CPU");
  const int c = a.c(), hw = a.h() * a.w();
  Matrix m(hw, c);
  const float* src = a.image(image);
  for (int ch = 0; ch < c; ++ch)
    for (int p = 0; p < hw; ++p) m(p, ch) = src[size_t(ch) * hw + p];
  return m;
}

double frobenius(const Matrix& a) {
  double s = 0;
  for (float v : a.data) s += double(v) * v;
  return std::sqrt(s);
}

Matrix matmul(const Matrix& a, const Matrix& b) {
  CUVIZ_CHECK(a.cols == b.rows, "matmul: ", a.rows, "x", a.cols, " times ", b.rows, "x", b.cols);
  Matrix c(a.rows, b.cols);
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < b.cols; ++j) {
      double s = 0;
      for (int l = 0; l < a.cols; ++l) s += double(a(i, l)) * b(l, j);
      c(i, j) = float(s);
    }
  return c;
}

// ---------------------------------------------------------------------------------------- NMF

NmfSolver parse_nmf_solver(const std::string& name) {
  if (name == "mu") return NmfSolver::mu;
  if (name == "hals") return NmfSolver::hals;
  throw Error(cat("unknown NMF solver '", name, "' (mu or hals)"));
}

std::string nmf_solver_name(NmfSolver s) { return s == NmfSolver::mu ? "mu" : "hals"; }

double NmfResult::relative_error() const { return errors.empty() || x_norm <= 0 ? 0.0 : errors.back() / x_norm; }

// scikit-learn's init='random': every entry |N(0, 1)| * sqrt(mean(X) / k), so that W H starts at
// the scale of X. W's entries are draws 0 .. n*k-1 of the stream, H's follow them.
void nmf_init(const Matrix& x, int k, uint64_t seed, Matrix& w, Matrix& h) {
  double mean = 0;
  for (float v : x.data) mean += v;
  mean /= double(x.data.size());
  const double avg = std::sqrt(mean / k);
  w = Matrix(x.rows, k);
  h = Matrix(k, x.cols);
  uint64_t index = 0;
  for (float& v : w.data) v = float(avg * std::fabs(random_normal(seed, kStreamNmfInit, index++)));
  for (float& v : h.data) v = float(avg * std::fabs(random_normal(seed, kStreamNmfInit, index++)));
}

// scikit-learn's rule for 'mu', checked every 10 iterations: stop when the error fell by less
// than tol times the error at the init over those 10 iterations.
bool nmf_should_stop(const std::vector<double>& errors, int t, double tol) {
  if (tol <= 0 || t < 10 || t % 10 != 0) return false;
  return (errors[size_t(t - 10)] - errors[size_t(t)]) / errors[0] < tol;
}

NmfResult nmf(const Matrix& x, const NmfOptions& o) {
  check_finite(x, "nmf");
  for (float v : x.data) CUVIZ_CHECK(v >= 0.f, "nmf: the matrix has a negative entry (NMF needs X >= 0)");
  const int n = x.rows, m = x.cols, k = o.k;
  CUVIZ_CHECK(k >= 1 && k <= std::min(n, m), "nmf: k = ", k, " must be between 1 and min(rows, columns) = ",
              std::min(n, m), " (the matrix is ", n, " x ", m, ")");
  CUVIZ_CHECK(o.max_iter >= 1, "nmf: max_iter must be at least 1");
  Matrix w, h;
  nmf_init(x, k, o.seed, w, h);
  if (o.device == Device::cuda) {
    NmfResult r = nmf_cuda(x, o, std::move(w), std::move(h));
    r.x_norm = frobenius(x);
    return r;
  }

  NmfResult r;
  r.x_norm = frobenius(x);
  std::vector<float> at(size_t(k) * n), b(size_t(k) * k), c(size_t(k) * m), d(size_t(k) * k), num(size_t(n) * k), dh(size_t(k) * m);
  r.errors.push_back(nmf_error(x, w, h));
  SerialBlas serial;
  for (int t = 1; t <= o.max_iter; ++t) {
    // ---- W with H fixed. A^T = H X^T (k x n; A = X H^T), B = H H^T (k x k).
    sgemm_parallel(false, true, k, n, m, 1.f, h.data.data(), m, x.data.data(), m, 0.f, at.data(), n);
    sgemm(false, true, k, k, m, 1.f, h.data.data(), m, h.data.data(), m, 0.f, b.data(), k);
    if (o.solver == NmfSolver::mu) {
      // Lee & Seung: W <- W * (X H^T) / (W H H^T), a zero denominator replaced by float epsilon
      // (scikit-learn's EPSILON). num = W B (n x k).
      sgemm_parallel(false, false, n, k, k, 1.f, w.data.data(), k, b.data(), k, 0.f, num.data(), k);
#pragma omp parallel for schedule(static)
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < k; ++j) {
          const float den = num[size_t(i) * k + j];
          w(i, j) = flush(w(i, j) * (at[size_t(j) * n + i] / (den == 0.f ? std::numeric_limits<float>::epsilon() : den)));
        }
    } else {
      // HALS: for each column j in turn, the exact minimiser over W[:, j] with the others fixed,
      // clipped at 0: W[:, j] <- max(0, W[:, j] + (A[:, j] - W B[:, j]) / B[j, j]). Rows are
      // independent (each row's update reads only that row of W), so they run in parallel; a
      // column with B[j, j] = 0 (an all-zero row of H) has no minimiser and is left as it is.
#pragma omp parallel for schedule(static)
      for (int i = 0; i < n; ++i) {
        float* wi = &w(i, 0);
        for (int j = 0; j < k; ++j) {
          const float bjj = b[size_t(j) * k + j];
          if (!(bjj > 0.f)) continue;
          double s = at[size_t(j) * n + i];
          for (int l = 0; l < k; ++l) s -= double(wi[l]) * b[size_t(l) * k + j];
          wi[j] = flush(float(wi[j] + s / bjj));
        }
      }
    }
    // ---- H with W fixed. C = W^T X (k x m), D = W^T W (k x k).
    sgemm_parallel(true, false, k, m, n, 1.f, w.data.data(), k, x.data.data(), m, 0.f, c.data(), m);
    sgemm(true, false, k, k, n, 1.f, w.data.data(), k, w.data.data(), k, 0.f, d.data(), k);
    if (o.solver == NmfSolver::mu) {
      // H <- H * (W^T X) / (W^T W H); dh = D H (k x m).
      sgemm_parallel(false, false, k, m, k, 1.f, d.data(), k, h.data.data(), m, 0.f, dh.data(), m);
#pragma omp parallel for schedule(static)
      for (int64_t e = 0; e < int64_t(k) * m; ++e) {
        const float den = dh[size_t(e)];
        h.data[size_t(e)] = flush(h.data[size_t(e)] * (c[size_t(e)] / (den == 0.f ? std::numeric_limits<float>::epsilon() : den)));
      }
    } else {
      // H[j, :] <- max(0, H[j, :] + (C[j, :] - D[j, :] H) / D[j, j]); columns are independent.
#pragma omp parallel for schedule(static)
      for (int col = 0; col < m; ++col)
        for (int j = 0; j < k; ++j) {
          const float djj = d[size_t(j) * k + j];
          if (!(djj > 0.f)) continue;
          double s = c[size_t(j) * m + col];
          for (int l = 0; l < k; ++l) s -= double(d[size_t(j) * k + l]) * h(l, col);
          h(j, col) = flush(float(h(j, col) + s / djj));
        }
    }
    r.errors.push_back(nmf_error(x, w, h));
    r.iterations = t;
    if (nmf_should_stop(r.errors, t, o.tol)) {
      r.converged = true;
      break;
    }
  }
  r.W = std::move(w);
  r.H = std::move(h);
  return r;
}

// ---------------------------------------------------------------------------------------- PCA

void symmetric_eigen(int n, std::vector<double> a, std::vector<double>& values, std::vector<double>& vectors) {
  CUVIZ_CHECK(int64_t(a.size()) == int64_t(n) * n, "symmetric_eigen: expected ", n, "x", n, " values");
  values.assign(size_t(n), 0.0);
  const char jobz = 'V', uplo = 'U';
  int lwork = -1, liwork = -1, info = 0, iwork_query = 0;
  double work_query = 0;
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, values.data(), &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
  CUVIZ_CHECK(info == 0, "LAPACK dsyevd workspace query failed (info ", info, ")");
  lwork = int(work_query);
  liwork = iwork_query;
  std::vector<double> work(size_t(std::max(lwork, 1)));
  std::vector<int> iwork(size_t(std::max(liwork, 1)));
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, values.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
  CUVIZ_CHECK(info == 0, "LAPACK dsyevd failed (info ", info, ")");
  // Column-major eigenvectors (column i = vector i) read row-major: row i = vector i.
  vectors = std::move(a);
}

void pca_from_covariance(const std::vector<double>& cov, int m, int k, PcaResult& r) {
  std::vector<double> values, vectors;
  symmetric_eigen(m, cov, values, vectors);  // ascending
  r.total_variance = 0;
  for (int i = 0; i < m; ++i) r.total_variance += cov[size_t(i) * m + i];
  r.components = Matrix(k, m);
  r.explained_variance.assign(size_t(k), 0.0);
  for (int q = 0; q < k; ++q) {
    const int e = m - 1 - q;  // the q-th largest
    r.explained_variance[size_t(q)] = std::max(values[size_t(e)], 0.0);
    const double* v = vectors.data() + size_t(e) * m;
    int big = 0;
    for (int j = 1; j < m; ++j)
      if (std::fabs(v[j]) > std::fabs(v[big])) big = j;
    const double sign = v[big] < 0 ? -1.0 : 1.0;
    for (int j = 0; j < m; ++j) r.components(q, j) = float(sign * v[j]);
  }
}

PcaResult pca(const Matrix& x, const PcaOptions& o) {
  check_finite(x, "pca");
  const int n = x.rows, m = x.cols, k = o.k;
  CUVIZ_CHECK(n >= 2, "pca: needs at least 2 rows, got ", n);
  CUVIZ_CHECK(k >= 1 && k <= std::min(n - 1, m), "pca: k = ", k, " must be between 1 and min(rows - 1, columns) = ",
              std::min(n - 1, m), " (the matrix is ", n, " x ", m, ")");
  if (o.device == Device::cuda) return pca_cuda(x, o);
  PcaResult r;
  r.mean.assign(size_t(m), 0.f);
  for (int j = 0; j < m; ++j) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += x(i, j);
    r.mean[size_t(j)] = float(s / n);
  }
  Matrix xc(n, m);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) xc(i, j) = x(i, j) - r.mean[size_t(j)];
  // C = Xc^T Xc / (n - 1): one SGEMM over the centred data (float products of centred values).
  std::vector<float> cf(size_t(m) * m);
  sgemm_parallel(true, false, m, m, n, 1.f / float(n - 1), xc.data.data(), m, xc.data.data(), m, 0.f, cf.data(), m);
  std::vector<double> cov(cf.size());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j)  // symmetrise (the SGEMM's halves round alike, but not by contract)
      cov[size_t(i) * m + j] = 0.5 * (double(cf[size_t(i) * m + j]) + cf[size_t(j) * m + i]);
  pca_from_covariance(cov, m, k, r);
  r.scores = Matrix(n, k);
  sgemm_parallel(false, true, n, k, m, 1.f, xc.data.data(), m, r.components.data.data(), m, 0.f, r.scores.data.data(),
                 k);
  return r;
}

// ------------------------------------------------------------------------------------ k-means

std::vector<int> kmeans_plus_plus(const Matrix& x, int k, uint64_t seed) {
  const int n = x.rows, m = x.cols;
  auto uniform = [&](uint64_t index) { return double(random_bits(seed, kStreamKmeansInit, index) >> 11) * 0x1p-53; };
  std::vector<int> seeds{int(uniform(0) * n)};
  std::vector<double> d2(size_t(n), std::numeric_limits<double>::infinity());
  for (int q = 1; q < k; ++q) {
    const float* c = x.row(seeds.back());
    double total = 0;
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int j = 0; j < m; ++j) {
        const double t = double(x(i, j)) - c[j];
        s += t * t;
      }
      d2[size_t(i)] = std::min(d2[size_t(i)], s);
      total += d2[size_t(i)];
    }
    // Draw i with probability d2[i] / total; when every point coincides with a seed, the first
    // row not yet chosen.
    int pick = -1;
    if (total > 0) {
      double u = uniform(uint64_t(q)) * total;
      for (int i = 0; i < n && pick < 0; ++i)
        if (d2[size_t(i)] > 0 && (u -= d2[size_t(i)]) < 0) pick = i;
      if (pick < 0)
        for (int i = n - 1; i >= 0 && pick < 0; --i)
          if (d2[size_t(i)] > 0) pick = i;
    }
    if (pick < 0)
      for (int i = 0; i < n && pick < 0; ++i)
        if (std::find(seeds.begin(), seeds.end(), i) == seeds.end()) pick = i;
    seeds.push_back(pick);
  }
  return seeds;
}

namespace {

// Assigns each row to its nearest centre (by ||c||^2 - 2 x.c with one SGEMM) and returns the
// inertia: the squared distances to the assigned centres, summed in double from the data.
double assign(const Matrix& x, const Matrix& centers, std::vector<int>& labels, std::vector<float>& dots) {
  const int n = x.rows, m = x.cols, k = centers.rows;
  sgemm_parallel(false, true, n, k, m, 1.f, x.data.data(), m, centers.data.data(), m, 0.f, dots.data(), k);
  std::vector<double> cc(size_t(k), 0.0);
  for (int q = 0; q < k; ++q)
    for (int j = 0; j < m; ++j) cc[size_t(q)] += double(centers(q, j)) * centers(q, j);
  // Each row's squared distance kept, then added in row order (not an OpenMP reduction, whose
  // order depends on which thread finishes first): the recorded objectives stay bit-identical.
  std::vector<double> row_d(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    int best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (int q = 0; q < k; ++q) {
      const double dq = cc[size_t(q)] - 2.0 * dots[size_t(i) * k + q];
      if (dq < best_d) best_d = dq, best = q;
    }
    labels[size_t(i)] = best;
    double s = 0;
    for (int j = 0; j < m; ++j) {
      const double t = double(x(i, j)) - centers(best, j);
      s += t * t;
    }
    row_d[size_t(i)] = s;
  }
  double inertia = 0;
  for (const double d : row_d) inertia += d;
  return inertia;
}

}  // namespace

KmeansResult kmeans(const Matrix& x, const KmeansOptions& o) {
  check_finite(x, "kmeans");
  const int n = x.rows, m = x.cols, k = o.k;
  CUVIZ_CHECK(k >= 1 && k <= n, "kmeans: k = ", k, " must be between 1 and the number of rows, ", n);
  CUVIZ_CHECK(o.max_iter >= 1, "kmeans: max_iter must be at least 1");
  Matrix centers(k, m);
  const std::vector<int> seeds = kmeans_plus_plus(x, k, o.seed);
  for (int q = 0; q < k; ++q) std::copy(x.row(seeds[size_t(q)]), x.row(seeds[size_t(q)]) + m, &centers(q, 0));
  if (o.device == Device::cuda) return kmeans_cuda(x, o, std::move(centers));

  KmeansResult r;
  r.labels.assign(size_t(n), -1);
  std::vector<int> labels(static_cast<size_t>(n));
  std::vector<float> dots(size_t(n) * k);
  SerialBlas serial;
  r.objectives.push_back(assign(x, centers, r.labels, dots));
  for (int t = 1; t <= o.max_iter; ++t) {
    // Update: each centre the mean of its members (summed in double); an empty one stays.
    std::vector<double> sum(size_t(k) * m, 0.0);
    std::vector<int> count(size_t(k), 0);
    for (int i = 0; i < n; ++i) {
      const int q = r.labels[size_t(i)];
      ++count[size_t(q)];
      for (int j = 0; j < m; ++j) sum[size_t(q) * m + j] += x(i, j);
    }
    for (int q = 0; q < k; ++q)
      if (count[size_t(q)] > 0)
        for (int j = 0; j < m; ++j) centers(q, j) = float(sum[size_t(q) * m + j] / count[size_t(q)]);
    r.iterations = t;
    const double inertia = assign(x, centers, labels, dots);
    r.objectives.push_back(inertia);
    const bool same = labels == r.labels;
    r.labels = labels;
    if (same) {
      r.converged = true;
      break;
    }
  }
  r.centers = std::move(centers);
  return r;
}

}  // namespace cuviz
