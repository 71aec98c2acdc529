// Regularizers: values on patterns with known answers, finite-difference gradients in double
// (L1, L2, TV away from their kinks), and blur_input_each_step's stop-gradient definition.
#include "viz/regularizers.h"

#include <cmath>

#include "viz/objective.h"

#include "test_util.h"

namespace cuviz {
namespace {

TEST(Regularizers, ValuesOnKnownPatterns) {
  OwnedTensor img(Shape{2, 3, 4, 5}), vals(Shape{2, 1, 1, 1});
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 5; ++x) img.at(n, c, y, x) = n == 0 ? float((x + y) % 2) : 0.7f;
  regularizer_forward_backward(RegKind::tv, 0.f, img, vals, 0.f, Tensor());
  EXPECT_EQ(vals.data()[0], 3.f * (3 * 5 + 4 * 4));  // every neighbour pair differs by 1
  EXPECT_EQ(vals.data()[1], 0.f);                    // a constant image has no variation
  regularizer_forward_backward(RegKind::l1, 0.5f, img, vals, 0.f, Tensor());
  EXPECT_FLOAT_EQ(vals.data()[0], 60 * 0.5f);
  EXPECT_FLOAT_EQ(vals.data()[1], 60 * 0.2f);
  regularizer_forward_backward(RegKind::l2, 0.f, img, vals, 0.f, Tensor());
  EXPECT_FLOAT_EQ(vals.data()[0], std::sqrt(1e-6f + 30.f));
  regularizer_forward_backward(RegKind::blur, 0.f, img, vals, 0.f, Tensor());
  EXPECT_NEAR(vals.data()[1], 0.f, 1e-10);  // blur of a constant is that constant, even at edges
}

TEST(Regularizers, GradientsMatchFiniteDifferences) {
  for (RegKind kind : {RegKind::l1, RegKind::l2, RegKind::tv, RegKind::tv2}) {
    OwnedTensorD img(Shape{2, 3, 5, 6}), vals(Shape{2, 1, 1, 1}), grad(img.shape());
    test::fill_uniform(img, 7, 0.0, 1.0);
    for (int64_t k = 0; k < grad.numel(); ++k) grad.data()[k] = 0;
    const double weight = -0.25;
    regularizer_forward_backward_cpu<double>(kind, 0.5, img, vals, weight, grad);
    auto loss = [&] {
      regularizer_forward_backward_cpu<double>(kind, 0.5, img, vals, 0.0, TensorD());
      return weight * (vals.data()[0] + vals.data()[1]);
    };
    // |.| has kinks where x = 0.5 (L1) or two neighbours are equal (TV); uniform random values
    // are never within eps of them here, so central differences are exact up to rounding.
    EXPECT_TRUE(test::gradient_check(img, loss, grad, 0, 1e-7, 1e-7, 1e-6)) << reg_kind_name(kind);
  }
}

// Mahendran & Vedaldi's alpha-norm and TV^beta: values on known patterns.
TEST(Regularizers, AlphaNormAndTvBetaValues) {
  OwnedTensor img(Shape{1, 1, 3, 4}), vals(Shape{1, 1, 1, 1});
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) img.at(0, 0, y, x) = float(x);  // a ramp: dx = 1 except the last column, dy = 0
  regularizer_forward_backward(RegKind::alpha, 1.f, img, vals, 0.f, Tensor(), 6.f);
  EXPECT_FLOAT_EQ(vals.data()[0], 3.f * (1 + 0 + 1 + 64));  // sum |x - 1|^6 over x = 0..3, three rows
  regularizer_forward_backward(RegKind::tv_beta, 0.f, img, vals, 0.f, Tensor(), 2.f);
  EXPECT_FLOAT_EQ(vals.data()[0], 3.f * 3);  // S = 1 at the first three columns of each row
  regularizer_forward_backward(RegKind::tv_beta, 0.f, img, vals, 0.f, Tensor(), 3.f);
  EXPECT_FLOAT_EQ(vals.data()[0], 9.f);  // 1^(3/2)
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) img.at(0, 0, y, x) = float(x + 2 * y);  // dx = 1, dy = 2: S = 5 inside
  regularizer_forward_backward(RegKind::tv_beta, 0.f, img, vals, 0.f, Tensor(), 1.f);
  // 2 x 3 inner pixels with S = 5, the last row's 3 with S = 1, the last column's 2 with S = 4, the corner 0.
  EXPECT_NEAR(vals.data()[0], 6 * std::sqrt(5.0) + 3 * 1 + 2 * 2, 1e-5);
  // beta = 2 is the squared-difference TV; beta = 1 on a one-direction edge is the L1 TV.
  OwnedTensor step(Shape{1, 1, 1, 5}), v1(Shape{1, 1, 1, 1}), v2(Shape{1, 1, 1, 1});
  for (int x = 0; x < 5; ++x) step.at(0, 0, 0, x) = x < 2 ? 0.1f : 0.7f;
  regularizer_forward_backward(RegKind::tv_beta, 0.f, step, v1, 0.f, Tensor(), 1.f);
  regularizer_forward_backward(RegKind::tv, 0.f, step, v2, 0.f, Tensor());
  EXPECT_FLOAT_EQ(v1.data()[0], v2.data()[0]);
}

TEST(Regularizers, AlphaNormAndTvBetaGradientsMatchFiniteDifferences) {
  for (RegKind kind : {RegKind::alpha, RegKind::tv_beta})
    for (double p : {1.5, 2.0, 3.0, 6.0}) {
      OwnedTensorD img(Shape{2, 3, 5, 6}), vals(Shape{2, 1, 1, 1}), grad(img.shape());
      test::fill_uniform(img, 17, 0.0, 1.0);
      for (int64_t k = 0; k < grad.numel(); ++k) grad.data()[k] = 0;
      const double weight = -0.5;
      regularizer_forward_backward_cpu<double>(kind, 0.5, img, vals, weight, grad, p);
      auto loss = [&] {
        regularizer_forward_backward_cpu<double>(kind, 0.5, img, vals, 0.0, TensorD(), p);
        return weight * (vals.data()[0] + vals.data()[1]);
      };
      // Random values are never within eps of the kinks (x = 0.5, or S = 0 at p < 2).
      EXPECT_TRUE(test::gradient_check(img, loss, grad, 0, 1e-7, 1e-7, 1e-6)) << reg_kind_name(kind) << " p " << p;
    }
}

TEST(Regularizers, ExponentBelowOneIsRejected) {
  OwnedTensor img(Shape{1, 3, 4, 4}), vals(Shape{1, 1, 1, 1});
  EXPECT_THROW(regularizer_forward_backward(RegKind::alpha, 0.5f, img, vals, 0.f, Tensor(), 0.5f), Error);
  EXPECT_THROW(regularizer_forward_backward(RegKind::tv_beta, 0.f, img, vals, 0.f, Tensor(), 0.f), Error);
  EXPECT_THROW(alpha_norm(0.5f), Error);
  EXPECT_THROW(parse_objective("tv_beta(0.5)"), Error);
  EXPECT_EQ(parse_objective("-0.1*alpha_norm(6) - tv_beta(2)").str(), "-0.1*alpha_norm(6,0.5) - tv_beta(2)");
}

TEST(Regularizers, BlurGradientIsImageMinusItsBlur) {
  OwnedTensorD img(Shape{1, 1, 4, 4}), vals(Shape{1, 1, 1, 1}), grad(img.shape());
  test::fill_uniform(img, 8, 0.0, 1.0);
  for (int64_t k = 0; k < grad.numel(); ++k) grad.data()[k] = 1.0;  // accumulates onto this
  regularizer_forward_backward_cpu<double>(RegKind::blur, 0.0, img, vals, 2.0, grad);
  auto px = [&](int y, int x) { return img.at(0, 0, y, x); };
  // Corner: kernel weights 4, 2, 2, 1 over the in-image taps, normalised by their sum 9.
  const double b00 = (4 * px(0, 0) + 2 * px(0, 1) + 2 * px(1, 0) + px(1, 1)) / 9;
  EXPECT_NEAR(grad.at(0, 0, 0, 0), 1.0 + 2.0 * (px(0, 0) - b00), 1e-14);
  // Interior: the full 3x3 [1 2 1] x [1 2 1] / 16.
  double b11 = 0;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) b11 += (2 - std::abs(dy)) * (2 - std::abs(dx)) * px(1 + dy, 1 + dx);
  b11 /= 16;
  EXPECT_NEAR(grad.at(0, 0, 1, 1), 1.0 + 2.0 * (px(1, 1) - b11), 1e-14);
}

TEST(Regularizers, RejectsMismatchedValues) {
  OwnedTensor img(Shape{2, 3, 4, 4}), vals(Shape{1, 1, 1, 1});
  EXPECT_THROW(regularizer_forward_backward(RegKind::tv, 0.f, img, vals, 1.f, Tensor()), Error);
}

}  // namespace
}  // namespace cuviz
