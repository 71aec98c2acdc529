// NMF, PCA and k-means (viz/factorize.h) against what they must do: recover the factors of a
// matrix of known rank, decrease their objectives monotonically, recover known clusters, and on a
// real activation matrix (GoogLeNet inception_4d/output on astronaut.png, from the independent
// PyTorch implementation) match scikit-learn's NMF error and NumPy's SVD
// (tests/fixtures/make_factorize_fixtures.py wrote tests/fixtures/factorize/).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "viz/factorize.h"
#include "viz/random.h"

namespace cuviz {
namespace {

const std::string kFixtures = std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/factorize/";

Matrix load_matrix(const std::string& file) {
  const NpyArray a = read_npy(kFixtures + file);
  EXPECT_EQ(a.dims.size(), 2u);
  Matrix m(int(a.dims[0]), int(a.dims[1]));
  m.data = a.data;
  return m;
}

nlohmann::json reference() { return nlohmann::json::parse(read_file(kFixtures + "reference.json")); }

double uniform(uint64_t seed, uint64_t i) { return double(random_bits(seed, 7, i) >> 11) * 0x1p-53; }

// A non-negative rank-k matrix W0 H0 whose factors are identifiable: each factor has rows (W0)
// and columns (H0) where it alone is non-zero (the "separable" case, where NMF is unique up to
// permutation and scale), the rest sparse random.
void separable_factors(int n, int m, int k, Matrix& w0, Matrix& h0) {
  w0 = Matrix(n, k);
  h0 = Matrix(k, m);
  uint64_t i = 0;
  for (int r = 0; r < n; ++r)
    for (int q = 0; q < k; ++q) {
      const bool pure = r < 2 * k;
      const double u = uniform(1, i++);
      w0(r, q) = pure ? (r % k == q ? 1.f + float(u) : 0.f) : (u < 0.5 ? 0.f : float(u));
    }
  for (int q = 0; q < k; ++q)
    for (int c = 0; c < m; ++c) {
      const bool pure = c < 2 * k;
      const double u = uniform(2, i++);
      h0(q, c) = pure ? (c % k == q ? 1.f + float(u) : 0.f) : (u < 0.5 ? 0.f : float(u));
    }
}

// The smallest, over the factors, of the cosine between a recovered column (W) and its matched
// true column, under the best permutation.
double best_match_cosine(const Matrix& a, const Matrix& b) {
  const int k = a.cols;
  std::vector<std::vector<double>> cos(static_cast<size_t>(k), std::vector<double>(static_cast<size_t>(k)));
  for (int p = 0; p < k; ++p)
    for (int q = 0; q < k; ++q) {
      double ab = 0, aa = 0, bb = 0;
      for (int r = 0; r < a.rows; ++r) ab += double(a(r, p)) * b(r, q), aa += double(a(r, p)) * a(r, p),
                                       bb += double(b(r, q)) * b(r, q);
      cos[size_t(p)][size_t(q)] = ab / std::sqrt(aa * bb + 1e-300);
    }
  std::vector<int> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  double best = -1;
  do {
    double worst = 2;
    for (int p = 0; p < k; ++p) worst = std::min(worst, cos[size_t(p)][size_t(perm[size_t(p)])]);
    best = std::max(best, worst);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

Matrix transpose(const Matrix& a) {
  Matrix t(a.cols, a.rows);
  for (int r = 0; r < a.rows; ++r)
    for (int c = 0; c < a.cols; ++c) t(c, r) = a(r, c);
  return t;
}

// Errors are computed in float SGEMM products and summed in double: a non-increase holds up to
// the rounding of ||X - WH|| (a few float ulps of ||X||), which is what `slack` allows.
void expect_monotone(const std::vector<double>& e, double slack, const std::string& what) {
  for (size_t t = 1; t < e.size(); ++t) ASSERT_LE(e[t], e[t - 1] + slack) << what << " increased at iteration " << t;
}

class NmfSolvers : public ::testing::TestWithParam<NmfSolver> {};

TEST_P(NmfSolvers, RecoversSeparableFactorsAndErrorNeverIncreases) {
  Matrix w0, h0;
  separable_factors(60, 50, 4, w0, h0);
  const Matrix x = matmul(w0, h0);
  NmfOptions o;
  o.k = 4;
  o.solver = GetParam();
  o.max_iter = GetParam() == NmfSolver::hals ? 2000 : 5000;
  o.tol = 0;
  o.seed = 3;
  const NmfResult r = nmf(x, o);
  ASSERT_EQ(r.errors.size(), size_t(o.max_iter + 1));
  expect_monotone(r.errors, 1e-6 * r.x_norm, nmf_solver_name(o.solver));
  EXPECT_LT(r.errors.back(), 0.5 * r.errors[0]);
  EXPECT_LT(r.relative_error(), 1e-3) << nmf_solver_name(o.solver);
  // The error really is ||X - WH|| of the returned factors.
  Matrix d = matmul(r.W, r.H);
  for (size_t i = 0; i < d.data.size(); ++i) d.data[i] -= x.data[i];
  EXPECT_NEAR(frobenius(d), r.errors.back(), 1e-4 * r.x_norm);
  for (float v : r.W.data) ASSERT_GE(v, 0.f);
  for (float v : r.H.data) ASSERT_GE(v, 0.f);
  EXPECT_GT(best_match_cosine(r.W, w0), 0.99);
  EXPECT_GT(best_match_cosine(transpose(r.H), transpose(h0)), 0.99);
}

INSTANTIATE_TEST_SUITE_P(Factorize, NmfSolvers, ::testing::Values(NmfSolver::hals, NmfSolver::mu),
                         [](const auto& info) { return nmf_solver_name(info.param); });

TEST(Factorize, NmfStopsOnRelativeChange) {
  Matrix w0, h0;
  separable_factors(40, 30, 3, w0, h0);
  const Matrix x = matmul(w0, h0);
  NmfOptions o;
  o.k = 3;
  o.max_iter = 5000;
  o.tol = 1e-4;
  const NmfResult r = nmf(x, o);
  ASSERT_TRUE(r.converged);
  ASSERT_EQ(r.iterations % 10, 0);
  const size_t t = size_t(r.iterations);
  EXPECT_LT((r.errors[t - 10] - r.errors[t]) / r.errors[0], 1e-4);
  // ... and not earlier.
  for (size_t s = 10; s < t; s += 10) EXPECT_GE((r.errors[s - 10] - r.errors[s]) / r.errors[0], 1e-4);
}

TEST(Factorize, NmfSameSeedSameFactors) {
  const Matrix x = load_matrix("googlenet_4d_astronaut.npy");
  NmfOptions o;
  o.max_iter = 20;
  const NmfResult a = nmf(x, o), b = nmf(x, o);
  EXPECT_EQ(a.W.data, b.W.data);
  o.seed = 1;
  EXPECT_NE(nmf(x, o).W.data, a.W.data);
}

// The real activation matrix: relative error within 5% of scikit-learn's with the same k and
// iteration budget (200 iterations, no early stop), for HALS against scikit-learn's coordinate
// descent and for multiplicative updates against its 'mu', both from a random init; and the error
// never increases on this matrix either.
TEST(Factorize, NmfOnGoogLeNetActivationsMatchesScikitLearn) {
  const Matrix x = load_matrix("googlenet_4d_astronaut.npy");
  ASSERT_EQ(x.rows, 196);
  ASSERT_EQ(x.cols, 528);
  const nlohmann::json ref = reference();
  for (NmfSolver solver : {NmfSolver::hals, NmfSolver::mu}) {
    const std::string key = solver == NmfSolver::hals ? "cd_random" : "mu_random";
    const auto errs = ref["nmf_relative_error"][key].get<std::vector<double>>();
    const double sk = *std::min_element(errs.begin(), errs.end());
    NmfOptions o;
    o.k = ref["k"];
    o.max_iter = ref["iterations"];
    o.tol = 0;
    o.solver = solver;
    for (uint64_t seed : {0, 1, 2}) {
      o.seed = seed;
      const NmfResult r = nmf(x, o);
      expect_monotone(r.errors, 1e-6 * r.x_norm, key);
      EXPECT_LE(r.relative_error(), 1.05 * sk) << nmf_solver_name(solver) << " seed " << seed << " vs scikit-learn "
                                                << key << " " << sk;
      std::printf("%s seed %d: relative error %.6f (scikit-learn %s best of 3: %.6f)\n", nmf_solver_name(solver).c_str(),
                  int(seed), r.relative_error(), key.c_str(), sk);
    }
  }
}

TEST(Factorize, NmfRejectsBadInput) {
  Matrix x(5, 4, 1.f);
  NmfOptions o;
  o.k = 5;
  EXPECT_THROW(nmf(x, o), Error);  // k > columns
  o.k = 0;
  EXPECT_THROW(nmf(x, o), Error);
  o.k = 2;
  x(1, 1) = -1.f;
  EXPECT_THROW(nmf(x, o), Error);
  x(1, 1) = NAN;
  EXPECT_THROW(nmf(x, o), Error);
}

// PCA against NumPy's SVD in double precision of the centred matrix: the explained variances
// (eigenvalues of the covariance = s^2 / (n - 1)) and the subspace the top 6 span (largest
// principal angle between the two subspaces: sin of it = ||(I - V V^T) U|| for orthonormal rows).
TEST(Factorize, PcaMatchesNumpySvd) {
  const Matrix x = load_matrix("googlenet_4d_astronaut.npy");
  const Matrix v = load_matrix("pca_components.npy");
  const nlohmann::json ref = reference();
  const auto var = ref["pca_explained_variance"].get<std::vector<double>>();
  PcaOptions o;
  o.k = 6;
  const PcaResult r = pca(x, o);
  ASSERT_EQ(r.components.rows, 6);
  ASSERT_EQ(r.components.cols, 528);
  for (int q = 0; q < 6; ++q) EXPECT_NEAR(r.explained_variance[size_t(q)], var[size_t(q)], 1e-4 * var[0]) << q;
  EXPECT_NEAR(r.total_variance, ref["pca_total_variance"].get<double>(), 1e-5 * r.total_variance);
  // Orthonormal rows.
  const Matrix g = matmul(r.components, transpose(r.components));
  for (int p = 0; p < 6; ++p)
    for (int q = 0; q < 6; ++q) EXPECT_NEAR(g(p, q), p == q ? 1.0 : 0.0, 1e-5);
  // Largest principal angle between span(ours) and span(NumPy's).
  const Matrix proj = matmul(r.components, transpose(v));  // 6 x 6: U V^T
  double worst = 0;
  for (int p = 0; p < 6; ++p) {
    double in = 0;
    for (int q = 0; q < 6; ++q) in += double(proj(p, q)) * proj(p, q);
    worst = std::max(worst, std::sqrt(std::max(0.0, 1.0 - in)));  // sin of p's angle to the subspace
  }
  EXPECT_LT(std::asin(std::min(1.0, worst)), 2e-3) << "radians";
  // Each component matches NumPy's up to sign (the eigenvalues are distinct).
  for (int q = 0; q < 6; ++q) EXPECT_GT(std::fabs(proj(q, q)), 0.999) << q;
  // Scores are the centred data projected: their variances are the eigenvalues.
  for (int q = 0; q < 6; ++q) {
    double s = 0, ss = 0;
    for (int i = 0; i < x.rows; ++i) s += r.scores(i, q), ss += double(r.scores(i, q)) * r.scores(i, q);
    EXPECT_NEAR(s / x.rows, 0.0, 1e-3 * std::sqrt(var[0]));
    EXPECT_NEAR(ss / (x.rows - 1), var[size_t(q)], 1e-4 * var[0]);
  }
}

TEST(Factorize, PcaRejectsBadInput) {
  Matrix x(3, 4, 1.f);
  PcaOptions o;
  o.k = 3;  // > rows - 1
  EXPECT_THROW(pca(x, o), Error);
  EXPECT_THROW(pca(Matrix(1, 4), PcaOptions{.k = 1}), Error);
}

// Three well separated Gaussian blobs in 5-D: k-means recovers them exactly (up to label
// permutation), and the objective never increases from the k-means++ seeds on.
TEST(Factorize, KmeansRecoversClustersAndObjectiveNeverIncreases) {
  const int per = 40, k = 3, m = 5;
  Matrix x(per * k, m);
  std::vector<int> truth;
  for (int q = 0; q < k; ++q)
    for (int i = 0; i < per; ++i) {
      const int r = q * per + i;
      truth.push_back(q);
      for (int j = 0; j < m; ++j)
        x(r, j) = float((j == q ? 10.0 : 0.0) + random_normal(5, 0, uint64_t(r * m + j)));
    }
  for (uint64_t seed : {0, 1, 2, 3}) {
    const KmeansResult r = kmeans(x, KmeansOptions{.k = k, .seed = seed});
    ASSERT_TRUE(r.converged);
    for (size_t t = 1; t < r.objectives.size(); ++t)
      ASSERT_LE(r.objectives[t], r.objectives[t - 1] * (1 + 1e-12)) << "seed " << seed << " iteration " << t;
    // Same partition as the truth.
    for (int a = 0; a < x.rows; ++a)
      for (int b = a + 1; b < x.rows; b += 7)
        ASSERT_EQ(r.labels[size_t(a)] == r.labels[size_t(b)], truth[size_t(a)] == truth[size_t(b)]) << a << " " << b;
    // The centres are the members' means.
    for (int q = 0; q < k; ++q) {
      double s = 0;
      int cnt = 0;
      for (int i = 0; i < x.rows; ++i)
        if (r.labels[size_t(i)] == q) s += x(i, 0), ++cnt;
      EXPECT_NEAR(r.centers(q, 0), s / cnt, 1e-4);
    }
  }
}

// A harder case (overlapping blobs, many points): the objective still never increases, and Lloyd
// takes several iterations, so the monotonicity is tested over a real run.
TEST(Factorize, KmeansObjectiveNeverIncreasesOnOverlappingData) {
  const Matrix x = load_matrix("googlenet_4d_astronaut.npy");
  const KmeansResult r = kmeans(x, KmeansOptions{.k = 8, .seed = 4});
  EXPECT_GT(r.iterations, 3);
  for (size_t t = 1; t < r.objectives.size(); ++t) ASSERT_LE(r.objectives[t], r.objectives[t - 1] * (1 + 1e-9)) << t;
  EXPECT_LT(r.objectives.back(), r.objectives.front());
}

TEST(Factorize, KmeansPlusPlusSeedsAreDistinctRows) {
  Matrix x(6, 2);
  for (int i = 0; i < 6; ++i) x(i, 0) = float(i / 2);  // three pairs of equal points
  const std::vector<int> s = kmeans_plus_plus(x, 3, 9);
  ASSERT_EQ(s.size(), 3u);
  // k-means++ never picks a point at distance 0 from a seed while others remain: one per pair.
  std::vector<int> pairs;
  for (int i : s) pairs.push_back(i / 2);
  std::sort(pairs.begin(), pairs.end());
  EXPECT_EQ(pairs, (std::vector<int>{0, 1, 2}));
  EXPECT_THROW(kmeans(x, KmeansOptions{.k = 7}), Error);
}

}  // namespace
}  // namespace cuviz
