// NMF, PCA and k-means on CUDA (viz/factorize.cu) against the CPU (viz/factorize.cpp) on the real
// activation matrix of tests/fixtures/factorize/: the same init, the same update order and
// float SGEMMs on both sides, so errors, factors and objectives agree to float rounding carried
// through the iterations. Skips without a device.
#include <gtest/gtest.h>

#include <cmath>

#include "io/npy.h"
#include "test_util.h"
#include "viz/factorize.h"

namespace cuviz {
namespace {

Matrix activations() {
  const NpyArray a = read_npy(std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/factorize/googlenet_4d_astronaut.npy");
  Matrix m(int(a.dims[0]), int(a.dims[1]));
  m.data = a.data;
  return m;
}

double max_abs_diff(const Matrix& a, const Matrix& b) {
  double d = 0;
  for (size_t i = 0; i < a.data.size(); ++i) d = std::max(d, double(std::fabs(a.data[i] - b.data[i])));
  return d;
}

TEST(FactorizeCuda, NmfMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const Matrix x = activations();
  for (NmfSolver solver : {NmfSolver::hals, NmfSolver::mu}) {
    NmfOptions o;
    o.k = 6;
    o.max_iter = 50;
    o.tol = 0;
    o.solver = solver;
    const NmfResult cpu = nmf(x, o);
    o.device = Device::cuda;
    const NmfResult gpu = nmf(x, o);
    ASSERT_EQ(gpu.errors.size(), cpu.errors.size());
    EXPECT_NEAR(gpu.errors[0], cpu.errors[0], 1e-5 * cpu.x_norm);
    for (size_t t = 1; t < gpu.errors.size(); ++t) {
      ASSERT_LE(gpu.errors[t], gpu.errors[t - 1] + 1e-6 * gpu.x_norm) << t;
      EXPECT_NEAR(gpu.errors[t], cpu.errors[t], 1e-3 * cpu.x_norm) << nmf_solver_name(solver) << " " << t;
    }
    double wmax = 0;
    for (float v : cpu.W.data) wmax = std::max(wmax, double(v));
    EXPECT_LT(max_abs_diff(gpu.W, cpu.W), 2e-2 * wmax) << nmf_solver_name(solver);
  }
}

TEST(FactorizeCuda, PcaMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const Matrix x = activations();
  const PcaResult cpu = pca(x, PcaOptions{.k = 6});
  const PcaResult gpu = pca(x, PcaOptions{.k = 6, .device = Device::cuda});
  for (int q = 0; q < 6; ++q) {
    EXPECT_NEAR(gpu.explained_variance[size_t(q)], cpu.explained_variance[size_t(q)], 1e-4 * cpu.explained_variance[0]);
    double dot = 0;
    for (int j = 0; j < x.cols; ++j) dot += double(gpu.components(q, j)) * cpu.components(q, j);
    EXPECT_GT(dot, 0.999) << q;  // same sign convention, same vector
  }
  EXPECT_LT(max_abs_diff(gpu.scores, cpu.scores), 1e-2 * std::sqrt(cpu.explained_variance[0]));
}

TEST(FactorizeCuda, KmeansMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const Matrix x = activations();
  const KmeansResult cpu = kmeans(x, KmeansOptions{.k = 8, .seed = 4});
  const KmeansResult gpu = kmeans(x, KmeansOptions{.k = 8, .seed = 4, .device = Device::cuda});
  for (size_t t = 1; t < gpu.objectives.size(); ++t)
    ASSERT_LE(gpu.objectives[t], gpu.objectives[t - 1] * (1 + 1e-9)) << t;
  EXPECT_NEAR(gpu.objectives[0], cpu.objectives[0], 1e-6 * cpu.objectives[0]);
  EXPECT_NEAR(gpu.inertia(), cpu.inertia(), 1e-3 * cpu.inertia());
}

}  // namespace
}  // namespace cuviz
