// Optimizers: Adam and SGD against torch.optim (fixture) and against torch's Adam formula written
// out in double; gradient normalisation; argument checks.
#include "optim/optimizer.h"

#include <cmath>
#include <vector>

#include "test_util.h"
#include "viz_fixtures.h"

namespace cuviz {
namespace {

// The fixture's problem: p0[k] = 0.1 k - 0.5, gradients g_t[k] = 0.3 (t + 1) sin(0.7 k + t).
void fill_problem(const Tensor& p) {
  for (int k = 0; k < 16; ++k) p.data()[k] = float(0.1 * k - 0.5);
}
void fill_grad(const Tensor& g, int t) {
  for (int k = 0; k < 16; ++k) g.data()[k] = float(0.3 * (t + 1) * std::sin(0.7 * k + t));
}

TEST(Adam, MatchesTorchOptimAdam) {
  OwnedTensor p(Shape{1, 1, 1, 16}), g(p.shape()), want(p.shape());
  fill_problem(p);
  Adam adam(16, Device::cpu);  // lr 0.05, betas (0.9, 0.999), eps 1e-8: torch's and Lucid's defaults
  for (int t = 0; t < 5; ++t) {
    fill_grad(g, t);
    adam.step(p, g);
  }
  for (int k = 0; k < 16; ++k) want.data()[k] = fixture::kAdamAfter5[k];
  // Same float operations in the same order as torch's single-tensor Adam; values ~1 after 5
  // steps of <= 0.05: allow a few ulps (2e-7) for FMA contraction differences.
  EXPECT_TRUE(test::all_close(p, want, 2e-7));
  EXPECT_EQ(adam.steps(), 5);
}

TEST(Adam, MatchesBiasCorrectedFormulaInDouble) {
  const AdamConfig c{0.1f, 0.8f, 0.99f, 1e-6f};
  OwnedTensor p(Shape{1, 1, 1, 16}), g(p.shape());
  fill_problem(p);
  std::vector<double> rp(16), m(16, 0.0), v(16, 0.0);
  for (int k = 0; k < 16; ++k) rp[k] = p.data()[k];
  Adam adam(16, Device::cpu, c);
  for (int t = 1; t <= 4; ++t) {
    fill_grad(g, t);
    adam.step(p, g);
    for (int k = 0; k < 16; ++k) {
      const double gk = g.data()[k];
      m[k] = double(c.beta1) * m[k] + (1 - double(c.beta1)) * gk;
      v[k] = double(c.beta2) * v[k] + (1 - double(c.beta2)) * gk * gk;
      const double mh = m[k] / (1 - std::pow(double(c.beta1), t)), vh = v[k] / (1 - std::pow(double(c.beta2), t));
      rp[k] -= double(c.lr) * mh / (std::sqrt(vh) + double(c.eps));
    }
  }
  // Float vs double arithmetic over 4 steps on values ~1: a few 1e-7.
  for (int k = 0; k < 16; ++k) EXPECT_NEAR(p.data()[k], rp[k], 1e-6) << k;
}

// The scalars a CUDA kernel computes from the step counter in device memory (adam_step_at, the
// shared CUVIZ_HD function) are torch's host values: bias corrections in double, then rounded.
// Every field must match bit for bit, early steps (large corrections) and late ones alike.
TEST(Adam, DeviceSideScalarsAreTheHostStepValues) {
  for (const AdamConfig c : {AdamConfig{}, AdamConfig{0.1f, 0.8f, 0.99f, 1e-6f}}) {
    for (int64_t t : {1, 2, 3, 7, 16, 100, 511, 512, 4096, 100000}) {
      const AdamStep got = adam_step_at(c, t), host = adam_step_scalars(c, t);
      const double bc1 = 1.0 - std::pow(double(c.beta1), double(t)), bc2 = 1.0 - std::pow(double(c.beta2), double(t));
      EXPECT_EQ(got.step_size, float(double(c.lr) / bc1)) << "t " << t;
      EXPECT_EQ(got.bc2_sqrt, float(std::sqrt(bc2))) << "t " << t;
      EXPECT_EQ(got.one_minus_beta1, float(1.0 - double(c.beta1)));
      EXPECT_EQ(got.one_minus_beta2, float(1.0 - double(c.beta2)));
      EXPECT_EQ(got.beta2, c.beta2);
      EXPECT_EQ(got.eps, c.eps);
      EXPECT_EQ(got.step_size, host.step_size) << "t " << t;
      EXPECT_EQ(got.bc2_sqrt, host.bc2_sqrt) << "t " << t;
    }
  }
}

// step_counted (the render loop's update, reading the step from a counter the caller advances)
// is Adam::step bit for bit.
TEST(Adam, CountedStepIsTheCountingStep) {
  OwnedTensor p(Shape{1, 1, 1, 16}), q(p.shape()), g(p.shape());
  fill_problem(p);
  fill_problem(q);
  Adam counting(16, Device::cpu), counted(16, Device::cpu);
  int64_t steps_done = 0;
  for (int t = 0; t < 30; ++t) {
    fill_grad(g, t);
    counting.step(p, g);
    counted.step_counted(q, g, &steps_done);
    ++steps_done;
  }
  for (int k = 0; k < 16; ++k) EXPECT_EQ(q.data()[k], p.data()[k]) << k;
  EXPECT_THROW(counted.step_counted(q, g, nullptr), Error);
}

TEST(Sgd, MatchesTorchOptimSgdWithMomentum) {
  OwnedTensor p(Shape{1, 1, 1, 16}), g(p.shape()), want(p.shape());
  fill_problem(p);
  Sgd sgd(16, Device::cpu, SgdConfig{0.1f, 0.9f, 0.f, false});
  for (int t = 0; t < 5; ++t) {
    fill_grad(g, t);
    sgd.step(p, g);
  }
  for (int k = 0; k < 16; ++k) want.data()[k] = fixture::kSgdAfter5[k];
  EXPECT_TRUE(test::all_close(p, want, 2e-7));  // a few ulps, as for Adam
}

TEST(GradNorm, EachSegmentGetsUnitMeanAbsOrNorm) {
  OwnedTensor g(Shape{1, 1, 1, 12});
  for (GradNorm kind : {GradNorm::mean_abs, GradNorm::l2}) {
    test::fill_uniform(g, 3);
    for (int k = 6; k < 12; ++k) g.data()[k] *= 100.f;  // segments of very different size
    normalize_gradient(kind, 2, g);
    for (int s = 0; s < 2; ++s) {
      double acc = 0;
      for (int k = 0; k < 6; ++k) {
        const double x = g.data()[s * 6 + k];
        acc += kind == GradNorm::l2 ? x * x : std::abs(x);
      }
      EXPECT_NEAR(kind == GradNorm::l2 ? std::sqrt(acc) : acc / 6, 1.0, 1e-6);
    }
  }
  EXPECT_THROW(normalize_gradient(GradNorm::l2, 5, g), Error);  // 12 does not split into 5
}

TEST(Adam, RejectsWrongSizesAndSettings) {
  OwnedTensor p(Shape{1, 1, 1, 16}), g(Shape{1, 1, 1, 15});
  Adam adam(16, Device::cpu);
  EXPECT_THROW(adam.step(p, g), Error);
  EXPECT_THROW(Adam(16, Device::cpu, AdamConfig{0.05f, 1.0f, 0.999f, 1e-8f}), Error);
}

}  // namespace
}  // namespace cuviz
