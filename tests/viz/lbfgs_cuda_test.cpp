// L-BFGS with its parameters and history on a CUDA device (optim/lbfgs.cu: the two-loop
// recursion's dots and axpys on the device) against the same run on the CPU: the convex quadratic
// and Rosenbrock reach the same optimum in about the same iterations, and the vector operations
// match the CPU's. Skipped without a device.
#include <cmath>
#include <vector>

#include "core/cuda_runtime.h"
#include "optim/lbfgs.h"
#include "test_util.h"

namespace cuviz {
namespace {

// f and g of the chained Rosenbrock function at x (host floats).
double rosenbrock(const std::vector<float>& x, std::vector<float>& g) {
  const int n = int(x.size());
  std::vector<double> gd(size_t(n), 0.0);
  double f = 0;
  for (int i = 0; i + 1 < n; ++i) {
    const double a = x[size_t(i)], b = x[size_t(i) + 1], r = b - a * a;
    f += 100 * r * r + (1 - a) * (1 - a);
    gd[size_t(i)] += -400 * a * r - 2 * (1 - a);
    gd[size_t(i) + 1] += 200 * r;
  }
  for (int i = 0; i < n; ++i) g[size_t(i)] = float(gd[size_t(i)]);
  return f;
}

struct Outcome {
  int iterations;
  double f;
  std::vector<float> x;
};

Outcome solve(Device device, LineSearch ls) {
  const int n = 20;
  OwnedTensor x(Shape{1, 1, 1, n}, device), g(x.shape(), device);
  std::vector<float> hx(static_cast<size_t>(n)), hg(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) hx[size_t(i)] = i % 2 == 0 ? -1.2f : 1.f;
  copy(Tensor(hx.data(), x.shape()), x);
  LbfgsConfig c;
  c.history = 10;
  c.line_search = ls;
  c.tol_grad = 1e-5;
  Lbfgs opt(x, g, c);
  auto f = [&] {
    copy(x, Tensor(hx.data(), x.shape()));
    const double v = rosenbrock(hx, hg);
    copy(Tensor(hg.data(), g.shape()), g);
    return v;
  };
  opt.minimize(f, 2000);
  copy(x, Tensor(hx.data(), x.shape()));
  return {opt.iterations(), opt.value(), hx};
}

TEST(LbfgsCuda, MatchesTheCpuRun) {
  CUVIZ_REQUIRE_GPU();
  {
    const LineSearch ls = LineSearch::strong_wolfe;
    const Outcome cpu = solve(Device::cpu, ls), gpu = solve(Device::cuda, ls);
    EXPECT_LT(gpu.f, 1e-6);
    for (float v : gpu.x) EXPECT_NEAR(v, 1.f, 1e-2);
    // The device's reductions sum in another order: the runs may part after many iterations, but
    // not by much in their count.
    EXPECT_NEAR(gpu.iterations, cpu.iterations, 0.25 * cpu.iterations + 5);
  }
}

TEST(LbfgsCuda, VectorOperationsMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const int n = 100003;  // more than the reduction's blocks cover in one pass
  OwnedTensor a(Shape{1, 1, 1, n}), b(a.shape());
  test::fill_uniform(a, 1);
  test::fill_uniform(b, 2);
  OwnedTensor da(a.shape(), Device::cuda), db(a.shape(), Device::cuda), dz(a.shape(), Device::cuda), z(a.shape());
  copy(a, da);
  copy(b, db);
  Buffer scratch(kLbfgsScratchBytes, Device::cuda);
  EXPECT_NEAR(vec_dot(da.data(), db.data(), n, Device::cuda, scratch.data()), vec_dot(a.data(), b.data(), n, Device::cpu),
              1e-9 * n);
  EXPECT_NEAR(vec_sum_abs(da.data(), n, Device::cuda, scratch.data()), vec_sum_abs(a.data(), n, Device::cpu), 1e-9 * n);
  EXPECT_EQ(vec_max_abs(da.data(), n, Device::cuda, scratch.data()), vec_max_abs(a.data(), n, Device::cpu));
  vec_lincomb(da.data(), 0.5f, db.data(), dz.data(), n, Device::cuda);
  copy(dz, z);
  for (int i = 0; i < n; i += 997) EXPECT_FLOAT_EQ(z.data()[i], a.data()[i] + 0.5f * b.data()[i]);
}

}  // namespace
}  // namespace cuviz
