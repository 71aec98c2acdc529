// L-BFGS (optim/lbfgs.h): Rosenbrock 2-D and 100-D and a convex quadratic converge to their
// optima, in iteration counts and to final values compared with SciPy's L-BFGS-B on the same
// problems (tests/fixtures/lbfgs_scipy.json, made by tests/fixtures/make_lbfgs_fixtures.py); every
// line search that claims the strong Wolfe conditions satisfies them; the fixed-step mode (one
// evaluation per iteration); the stopping tests and their reasons; the history bound.
#include "optim/lbfgs.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "test_util.h"

namespace cuviz {
namespace {

nlohmann::json scipy_fixture() {
  std::ifstream in(std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/lbfgs_scipy.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

// A problem: f and its gradient in double, from the float parameters.
struct Problem {
  std::vector<double> x0, xstar;
  double fstar = 0;
  std::function<double(const float* x, float* g)> f;
};

// The problems exactly as tests/fixtures/make_lbfgs_fixtures.py defines them.
Problem rosenbrock(int n) {
  Problem p;
  for (int i = 0; i < n; ++i) p.x0.push_back(n == 2 ? (i == 0 ? -1.2 : 1.0) : (i % 2 == 0 ? -1.2 : 1.0));
  p.xstar.assign(size_t(n), 1.0);
  p.f = [n](const float* x, float* g) {
    std::vector<double> gd(size_t(n), 0.0);
    double f = 0;
    for (int i = 0; i + 1 < n; ++i) {
      const double a = x[i], b = x[i + 1];
      const double r = b - a * a;
      f += 100 * r * r + (1 - a) * (1 - a);
      gd[size_t(i)] += -400 * a * r - 2 * (1 - a);
      gd[size_t(i + 1)] += 200 * r;
    }
    for (int i = 0; i < n; ++i) g[i] = float(gd[size_t(i)]);
    return f;
  };
  return p;
}

Problem quadratic(int n) {
  Problem p;
  std::vector<double> lam;
  for (int i = 0; i < n; ++i) lam.push_back(std::pow(100.0, double(i) / (n - 1)));
  p.x0.assign(size_t(n), 0.0);
  for (int i = 0; i < n; ++i) {
    p.xstar.push_back(1 / lam[size_t(i)]);
    p.fstar -= 0.5 / lam[size_t(i)];
  }
  p.f = [lam, n](const float* x, float* g) {
    double f = 0;
    for (int i = 0; i < n; ++i) {
      f += 0.5 * lam[size_t(i)] * double(x[i]) * x[i] - x[i];
      g[i] = float(lam[size_t(i)] * x[i] - 1);
    }
    return f;
  };
  return p;
}

struct RunResult {
  LbfgsStop stop;
  int iterations;
  int64_t evaluations;
  double f, x_error;
  int searches = 0, claimed = 0;  // line searches, and those that claimed strong Wolfe
  int earlier_accepted = 0;       // searches that accepted a trial before their last
};

// Minimises p from x0, checking every line search's claim against its values.
RunResult run(const Problem& p, LbfgsConfig c, int max_iter) {
  const int n = int(p.x0.size());
  OwnedTensor x(Shape{1, 1, 1, n}), g(x.shape());
  for (int i = 0; i < n; ++i) x.data()[i] = float(p.x0[size_t(i)]);
  Lbfgs opt(x, g, c);
  auto f = [&] { return p.f(x.data(), g.data()); };
  RunResult r{};
  for (int k = 0; k < max_iter && opt.stop() == LbfgsStop::running; ++k) {
    const int64_t before = opt.evaluations();
    opt.iterate(f);
    if (opt.iterations() == 0) break;  // stopped before any step
    const LineSearchInfo& s = opt.last_search();
    ++r.searches;
    EXPECT_GE(s.evaluations, 1);
    EXPECT_LE(opt.evaluations() - before, s.evaluations + (k == 0 ? 1 : 0));
    EXPECT_LT(s.gtd0, 0) << "iteration " << k << ": not a descent direction";
    if (s.wolfe) {
      ++r.claimed;
      // Sufficient decrease and the strong curvature condition, as claimed.
      EXPECT_LE(s.f, s.f0 + c.c1 * s.t * s.gtd0 + 1e-12 * std::fabs(s.f0)) << "iteration " << k;
      EXPECT_LE(std::fabs(s.gtd), c.c2 * std::fabs(s.gtd0) * (1 + 1e-6)) << "iteration " << k;
      // ... and they describe the point the optimizer now holds.
      EXPECT_EQ(s.f, opt.value());
    }
    EXPECT_LE(opt.history_size(), c.history);
    // x and value() describe the same point (the accepted one, whichever the search tried last).
    const double again = p.f(x.data(), g.data());
    EXPECT_EQ(again, opt.value()) << "iteration " << k;
    if (!opt.last_evaluation_at_x()) ++r.earlier_accepted;
  }
  r.stop = opt.stop();
  r.iterations = opt.iterations();
  r.evaluations = opt.evaluations();
  r.f = opt.value();
  for (int i = 0; i < n; ++i) r.x_error = std::max(r.x_error, std::fabs(x.data()[i] - p.xstar[size_t(i)]));
  return r;
}

LbfgsConfig scipy_like() {
  LbfgsConfig c;
  c.history = 10;  // SciPy's maxcor
  c.line_search = LineSearch::strong_wolfe;
  c.tol_grad = 1e-5;  // SciPy's gtol (max |g_i|)
  return c;
}

// Our iterations within a factor of SciPy's (the same algorithm family, different line searches
// and float parameters), and the final value as close to the optimum as float allows.
void compare(const char* name, const Problem& p, const RunResult& r, double x_tol, double f_tol) {
  const auto j = scipy_fixture()[name];
  const int nit = j["nit"];
  std::printf("%s: cuviz %d iterations, %lld evaluations, f - f* = %.3g, |x - x*| = %.3g (%s); "
              "SciPy L-BFGS-B %d iterations, %d evaluations, f - f* = %.3g\n",
              name, r.iterations, (long long)r.evaluations, r.f - p.fstar, r.x_error, lbfgs_stop_name(r.stop), nit,
              int(j["nfev"]), double(j["fun"]) - p.fstar);
  EXPECT_TRUE(j["success"].get<bool>());
  EXPECT_NE(r.stop, LbfgsStop::running) << "did not converge in the iterations given";
  EXPECT_NE(r.stop, LbfgsStop::line_search_failed);
  EXPECT_LE(r.x_error, x_tol);
  EXPECT_LE(std::fabs(r.f - p.fstar), f_tol);
  EXPECT_LE(r.iterations, 2 * nit) << "SciPy needed " << nit;
  EXPECT_GE(r.iterations, nit / 2) << "SciPy needed " << nit;
  EXPECT_GT(r.claimed, r.searches * 9 / 10) << "most line searches end on the strong Wolfe conditions";
}

TEST(Lbfgs, Rosenbrock2DAgainstScipy) {
  const Problem p = rosenbrock(2);
  compare("rosenbrock2", p, run(p, scipy_like(), 1000), 1e-3, 1e-7);
}

TEST(Lbfgs, Rosenbrock100DAgainstScipy) {
  const Problem p = rosenbrock(100);
  compare("rosenbrock100", p, run(p, scipy_like(), 5000), 1e-3, 1e-6);
}

TEST(Lbfgs, ConvexQuadraticAgainstScipy) {
  const Problem p = quadratic(50);
  compare("quadratic50", p, run(p, scipy_like(), 1000), 1e-4, 1e-6);
}

// neural-style's mode: t = lr (the first step scaled by min(1, 1/||g||_1)), one evaluation per
// iteration plus the first. On a convex quadratic L-BFGS's step of 1 is the Newton step in the
// span of the history, and it converges.
TEST(Lbfgs, FixedStepOneEvaluationPerIteration) {
  const Problem p = quadratic(50);
  LbfgsConfig c;
  c.tol_grad = 1e-5;
  const RunResult r = run(p, c, 500);
  EXPECT_EQ(r.evaluations, r.iterations + 1);
  EXPECT_EQ(r.claimed, 0) << "a fixed step claims nothing";
  EXPECT_NE(r.stop, LbfgsStop::running);
  EXPECT_LE(r.x_error, 1e-4);
  EXPECT_LE(std::fabs(r.f - p.fstar), 1e-6);
}

TEST(Lbfgs, StopsAtTheStartOnAZeroGradient) {
  const Problem p = quadratic(4);
  OwnedTensor x(Shape{1, 1, 1, 4}), g(x.shape());
  for (int i = 0; i < 4; ++i) x.data()[i] = float(p.xstar[size_t(i)]);
  Lbfgs opt(x, g, LbfgsConfig{.tol_grad = 1e-5});
  EXPECT_EQ(opt.iterate([&] { return p.f(x.data(), g.data()); }), LbfgsStop::gradient_tolerance);
  EXPECT_EQ(opt.evaluations(), 1);
  EXPECT_EQ(opt.iterations(), 0);
  EXPECT_EQ(std::string(lbfgs_stop_name(opt.stop())), "gradient tolerance");
  // Iterating again evaluates nothing.
  EXPECT_EQ(opt.iterate([&] { return p.f(x.data(), g.data()); }), LbfgsStop::gradient_tolerance);
  EXPECT_EQ(opt.evaluations(), 1);
}

TEST(Lbfgs, FunctionToleranceStopsAPlateau) {
  // A function whose value does not change while its gradient (x) still points somewhere: the
  // first step changes f by 0 < tol_change.
  OwnedTensor x(Shape{1, 1, 1, 3}), g(x.shape());
  for (int i = 0; i < 3; ++i) x.data()[i] = 1.f;
  Lbfgs opt(x, g, LbfgsConfig{.tol_grad = -1});
  auto f = [&] {
    for (int i = 0; i < 3; ++i) g.data()[i] = x.data()[i];
    return 7.0;
  };
  EXPECT_EQ(opt.minimize(f, 100), LbfgsStop::function_tolerance);
  EXPECT_EQ(opt.iterations(), 1);
}

TEST(Lbfgs, StepToleranceStopsATinyStep) {
  // f = 0.5 sum x^2 + 1 from x = 1e-10: the slope along -g is -2e-20.
  OwnedTensor x(Shape{1, 1, 1, 2}), g(x.shape());
  x.data()[0] = x.data()[1] = 1e-10f;
  Lbfgs opt(x, g, LbfgsConfig{.tol_grad = -1, .tol_change = 1e-9});
  auto f = [&] {
    for (int i = 0; i < 2; ++i) g.data()[i] = x.data()[i];
    return 0.5 * (double(x.data()[0]) * x.data()[0] + double(x.data()[1]) * x.data()[1]) + 1.0;
  };
  // g.d = -2e-20 > -1e-9: no descent is left to find before any step.
  EXPECT_EQ(opt.minimize(f, 100), LbfgsStop::no_descent);
  EXPECT_EQ(opt.iterations(), 0);
  // A steep slope but a step of lr 1e-6: the first step moves max |t d_i| = 0.5e-6 <= 1e-5.
  x.data()[0] = x.data()[1] = 1000.f;
  Lbfgs opt2(x, g, LbfgsConfig{.lr = 1e-6, .tol_grad = -1, .tol_change = 1e-5});
  EXPECT_EQ(opt2.minimize(f, 100), LbfgsStop::step_tolerance);
  EXPECT_EQ(opt2.iterations(), 1);
}

TEST(Lbfgs, RunningWhenTheIterationsRunOut) {
  const Problem p = rosenbrock(2);
  OwnedTensor x(Shape{1, 1, 1, 2}), g(x.shape());
  x.data()[0] = -1.2f, x.data()[1] = 1.f;
  Lbfgs opt(x, g, scipy_like());
  EXPECT_EQ(opt.minimize([&] { return p.f(x.data(), g.data()); }, 3), LbfgsStop::running);
  EXPECT_EQ(opt.iterations(), 3);
}

TEST(Lbfgs, HistoryIsBounded) {
  const Problem p = rosenbrock(100);
  LbfgsConfig c = scipy_like();
  c.history = 3;
  const RunResult r = run(p, c, 40);
  EXPECT_EQ(r.iterations, 40);
}

TEST(Lbfgs, RejectsBadConfigurations) {
  OwnedTensor x(Shape{1, 1, 1, 3}), g(Shape{1, 1, 1, 2});
  EXPECT_THROW(Lbfgs(x, g), Error);
  OwnedTensor g3(x.shape());
  EXPECT_THROW(Lbfgs(x, g3, LbfgsConfig{.history = 0}), Error);
  EXPECT_THROW(Lbfgs(x, g3, LbfgsConfig{.lr = 0}), Error);
  EXPECT_THROW(Lbfgs(x, g3, LbfgsConfig{.c1 = 0.9, .c2 = 0.1}), Error);
}

TEST(Lbfgs, VectorOperations) {
  std::vector<float> a{1, -2, 3, -4, 5, -6, 7, -8, 9, -10}, b(10, 0.5f), z(10);
  EXPECT_DOUBLE_EQ(vec_dot(a.data(), b.data(), 10, Device::cpu), -2.5);
  EXPECT_DOUBLE_EQ(vec_sum_abs(a.data(), 10, Device::cpu), 55);
  EXPECT_DOUBLE_EQ(vec_max_abs(a.data(), 10, Device::cpu), 10);
  vec_lincomb(a.data(), 2.f, b.data(), z.data(), 10, Device::cpu);
  EXPECT_FLOAT_EQ(z[3], -3.f);
  vec_sub(a.data(), b.data(), z.data(), 10, Device::cpu);
  EXPECT_FLOAT_EQ(z[9], -10.5f);
  vec_scale(-2.f, a.data(), z.data(), 10, Device::cpu);
  EXPECT_FLOAT_EQ(z[4], -10.f);
  vec_axpy(1.f, a.data(), z.data(), 10, Device::cpu);
  EXPECT_FLOAT_EQ(z[4], -5.f);
}

}  // namespace
}  // namespace cuviz
