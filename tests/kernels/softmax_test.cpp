// Softmax and log-softmax over channels: properties (sums to one, shift invariance, no overflow
// for huge logits), fast path == reference on random shapes and strided views, in place, double
// gradient checks, bad inputs.
#include "kernels/softmax.h"

#include <cmath>

#include "tests/kernels/op_test_util.h"

namespace cuviz {

TEST(Softmax, SumsToOneAndMatchesLogSoftmax) {
  OwnedTensor x(Shape{2, 5, 3, 7}), y(x.shape()), ly(x.shape());
  test::fill_uniform(x, 1, -5.0, 5.0);
  softmax_forward(x, y);
  log_softmax_forward(x, ly);
  for (int n = 0; n < 2; ++n)
    for (int h = 0; h < 3; ++h)
      for (int w = 0; w < 7; ++w) {
        double sum = 0;
        for (int c = 0; c < 5; ++c) {
          sum += y.at(n, c, h, w);
          // exp(log_softmax) == softmax within float rounding of values <= 1.
          EXPECT_NEAR(std::exp(ly.at(n, c, h, w)), y.at(n, c, h, w), 1e-6);
        }
        // Five float terms, each rounded once (~6e-8 relative): the sum is 1 within 1e-6.
        EXPECT_NEAR(sum, 1.0, 1e-6);
      }
}

TEST(Softmax, StableForHugeLogits) {
  // Without subtracting the maximum, exp(1000) overflows to inf and the result is NaN.
  OwnedTensor x(Shape{1, 3, 1, 1}), y(x.shape()), ly(x.shape());
  x.at(0, 0, 0, 0) = 1000.f, x.at(0, 1, 0, 0) = 1000.f - std::log(3.f), x.at(0, 2, 0, 0) = -1000.f;
  softmax_forward(x, y);
  log_softmax_forward(x, ly);
  // Exact values: 3/4, 1/4, 0 (exp(-2000) underflows); float rounding of log(3) near 1000 is
  // ~6e-5 in x (ulp of 1000), so y is within ~3e-5 of the ideal.
  EXPECT_NEAR(y.at(0, 0, 0, 0), 0.75, 5e-5);
  EXPECT_NEAR(y.at(0, 1, 0, 0), 0.25, 5e-5);
  EXPECT_EQ(y.at(0, 2, 0, 0), 0.f);
  // log-softmax: the same 6e-5 from the input, plus a couple of ulps of 1000 (6e-5 each)
  // and of 2000 (1.2e-4 each) from the subtractions.
  EXPECT_NEAR(ly.at(0, 0, 0, 0), std::log(0.75), 2e-4);
  EXPECT_NEAR(ly.at(0, 2, 0, 0), -2000.0 - std::log(4.0 / 3.0), 5e-4);
}

TEST(Softmax, FastMatchesReferenceOnRandomShapesAndStridedViews) {
  const Shape shapes[] = {{2, 7, 5, 3}, {1, 1, 1, 1}, {3, 1000, 1, 1}, {2, 21, 17, 19}, {1, 3, 300, 1}};
  int seed = 0;
  for (const Shape& s : shapes)
    for (bool log : {false, true}) {
      SCOPED_TRACE(cat(log ? "log_softmax " : "softmax ", s.str()));
      test::SliceView x(s), y(s), dy(s), dx(s);
      OwnedTensor ry(s), rdx(s);
      test::fill_uniform(x.view, ++seed, -8.0, 8.0);
      test::fill_uniform(dy.view, ++seed);
      (log ? log_softmax_forward : softmax_forward)(x.view, y.view);
      (log ? log_softmax_forward_reference<float> : softmax_forward_reference<float>)(x.view, ry);
      // Same max and exp-sum order; the fast path folds m + log(sum) (log) or divides once per
      // element (softmax): differences are a few ulps of values of size <= ~20.
      EXPECT_TRUE(test::all_close(y.view, ry, 1e-6, 1e-6));
      (log ? log_softmax_backward_data : softmax_backward_data)(y.view, dy.view, dx.view);
      (log ? log_softmax_backward_data_reference<float> : softmax_backward_data_reference<float>)(ry, dy.view, rdx);
      // Backward from slightly different y (above) with a sum over up to 1000 channels of
      // terms <= 1: accumulated float rounding stays below 1e-5 absolute.
      EXPECT_TRUE(test::all_close(dx.view, rdx, 1e-5, 1e-5));
      EXPECT_TRUE(y.guard_intact() && dx.guard_intact());
    }
}

TEST(Softmax, InPlaceForwardAndBackward) {
  for (bool log : {false, true}) {
    OwnedTensor x(Shape{2, 10, 41, 43}), y(x.shape()), dy(x.shape()), dx(x.shape());  // above the OpenMP threshold
    test::fill_uniform(x, 7, -3.0, 3.0);
    test::fill_uniform(dy, 8);
    (log ? log_softmax_forward : softmax_forward)(x, y);
    (log ? log_softmax_backward_data : softmax_backward_data)(y, dy, dx);
    (log ? log_softmax_forward : softmax_forward)(x, x);
    (log ? log_softmax_backward_data : softmax_backward_data)(y, dy, dy);
    // Same operations on the same values: bit-identical.
    EXPECT_TRUE(test::all_close(x, y, 0.0));
    EXPECT_TRUE(test::all_close(dy, dx, 0.0));
  }
}

TEST(Softmax, GradientCheckInDouble) {
  for (bool log : {false, true}) {
    SCOPED_TRACE(log ? "log_softmax" : "softmax");
    OwnedTensorD x(Shape{2, 6, 3, 5}), y(x.shape()), w(x.shape()), dx(x.shape());
    test::fill_uniform(x, 50 + log, -3.0, 3.0);
    test::fill_uniform(w, 60 + log);
    auto forward = log ? log_softmax_forward_reference<double> : softmax_forward_reference<double>;
    forward(x, y);
    (log ? log_softmax_backward_data_reference<double> : softmax_backward_data_reference<double>)(y, w, dx);
    auto loss = [&] {
      forward(x, y);
      return test::weighted_sum(y, w);
    };
    // Smooth: O(eps^2) truncation plus ~1e-10 cancellation error, far below 1e-8 + 1e-6 |g|.
    EXPECT_TRUE(test::gradient_check(x, loss, dx, 0, 1e-6, 1e-8, 1e-6));
  }
}

TEST(Softmax, FloatBackwardAgreesWithDoubleGradient) {
  OwnedTensor x(Shape{2, 9, 4, 5}), y(x.shape()), dy(x.shape()), dx(x.shape());
  test::fill_uniform(x, 70, -3.0, 3.0);
  test::fill_uniform(dy, 71);
  for (bool log : {false, true}) {
    (log ? log_softmax_forward : softmax_forward)(x, y);
    (log ? log_softmax_backward_data : softmax_backward_data)(y, dy, dx);
    OwnedTensorD xd = test::to_double(x), yd(x.shape()), dyd = test::to_double(dy), dxd(x.shape());
    (log ? log_softmax_forward_reference<double> : softmax_forward_reference<double>)(xd, yd);
    (log ? log_softmax_backward_data_reference<double> : softmax_backward_data_reference<double>)(yd, dyd, dxd);
    // Float evaluation of sums over 9 channels of terms <= 1 in magnitude.
    EXPECT_TRUE(test::all_close(dx, dxd, 1e-6, 1e-5)) << (log ? "log_softmax" : "softmax");
  }
}

TEST(Softmax, RejectsBadInputs) {
  OwnedTensor x(Shape{1, 4, 3, 3}), y(x.shape()), wrong(Shape{1, 3, 3, 3}), empty(Shape{0, 4, 3, 3});
  softmax_forward(x, y);  // the baseline is valid
  test::expect_error([&] { softmax_forward(x, wrong); }, "softmax_forward");
  test::expect_error([&] { log_softmax_forward(x, wrong); }, "log_softmax_forward");
  test::expect_error([&] { softmax_forward(empty, empty); }, "softmax_forward");
  test::expect_error([&] { softmax_backward_data(x, wrong, y); }, "softmax_backward_data");
  test::expect_error([&] { log_softmax_backward_data(x, y, wrong); }, "log_softmax_backward_data");
}

}  // namespace cuviz
