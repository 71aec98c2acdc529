// The whole DeepDream step on a small network, checked from outside: with cuviz dream's own loop
// configuration (viz/dream.h dream_options: param input, roll, gradient / mean |g|, SGD, clip), the
// gradient the step uses must be the derivative of the objective at the step's rolled input
// (central differences along random directions), and the update must be
//   x1 = clip(x0 + step * g / mean|g|),  g = d deepdream(L)(roll_t(x)) / dx at x0,
// computed here on the host from that gradient. A wrong roll-back, sign, normalisation or clip
// fails one of the two.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "../nn/reference_net.h"
#include "method_test_util.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/dream.h"
#include "viz/render.h"

namespace cuviz {
namespace {

TEST(DreamStep, GradientIsTheObjectivesDerivativeAndTheUpdateIsTheNormalisedStep) {
  Network net(test::unit_net(), Device::cpu);  // inputs in [-0.5, 0.5]: x = image - 0.5
  DreamSettings s;
  s.layer = "inc/output";
  s.jitter = 5;  // a roll that moves the image at step 0 (checked below)
  s.step = 0.01; // small enough that no pixel reaches the clip
  s.seed = 3;
  RenderOptions o = dream_options(s, Device::cpu);
  o.size = 14;
  OwnedTensor x0(Shape{1, 3, 14, 14});
  test::fill_uniform(x0, 21, -0.4, 0.4);
  o.source = ImageSource::from_input(x0);
  const Objective obj = parse_objective(s.objective_text());
  Renderer r(net, {obj}, o);
  int dy = 0, dx = 0;
  roll_shift(s.seed, 0, 0, s.jitter, dy, dx);
  ASSERT_TRUE(dy != 0 || dx != 0) << "the roll of step 0 is the identity: pick another seed";

  r.gradient(0);
  const int64_t n = x0.numel();
  const std::vector<float> g(r.param_grad().data(), r.param_grad().data() + n);  // of -objective
  auto objective_at = [&](const std::vector<double>& d, double e) {
    for (int64_t k = 0; k < n; ++k) r.params().data()[k] = float(double(x0.data()[k]) + e * d[size_t(k)]);
    return r.evaluate(0, true)[0];  // step 0's roll, as the gradient pass
  };
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<double> d(size_t(n), 0.0);
    double analytic = 0;
    for (int64_t k = 0; k < n; ++k) {
      d[size_t(k)] = u(rng);
      analytic -= double(g[size_t(k)]) * d[size_t(k)];
    }
    const double f0 = objective_at(d, 0);
    bool agrees = false;
    std::string seen;
    for (double e : {1e-2, 1e-3, 1e-4}) {
      const double fd = (objective_at(d, e) - objective_at(d, -e)) / (2 * e);
      agrees = agrees || std::abs(fd - analytic) <= 1e-2 * std::abs(analytic) + 2e-7 * std::abs(f0) / e;
      seen += cat(" eps ", e, ": ", fd, ";");
    }
    EXPECT_TRUE(agrees) << "direction " << trial << ": analytic " << analytic << ", central differences" << seen;
    EXPECT_GT(std::abs(analytic), 1e-3 * std::abs(f0)) << "no derivative along direction " << trial;
  }

  // The update, from the start image, with the gradient just checked.
  for (int64_t k = 0; k < n; ++k) r.params().data()[k] = x0.data()[k];
  r.gradient(0);
  r.update();
  double mean_abs = 0;
  for (float v : g) mean_abs += std::abs(double(v));
  mean_abs /= double(n);
  int moved = 0;
  for (int64_t k = 0; k < n; ++k) {
    const double want = std::clamp(double(x0.data()[k]) - s.step * g[size_t(k)] / (mean_abs + 1e-8), -0.5, 0.5);
    ASSERT_NEAR(r.params().data()[k], want, 1e-6) << "element " << k;
    moved += std::abs(want - x0.data()[k]) > 1e-4;
  }
  EXPECT_GT(moved, n / 2);
}

}  // namespace
}  // namespace cuviz
