// Batch normalization (inference): the affine fast path vs the textbook formula (float and
// double), strided views and in place, gradient check, folding into a convolution checked with
// the conv reference, bad inputs.
#include "kernels/batchnorm.h"

#include "kernels/conv2d.h"
#include "tests/kernels/op_test_util.h"

namespace cuviz {

namespace {

// Owns the four statistics of a C-channel batch norm filled with plausible random values.
struct BnFixture {
  OwnedTensor scale, bias, mean, var;
  BatchNormWeights bn;
  BnFixture(int C, uint64_t seed)
      : scale(Shape{1, C, 1, 1}), bias(scale.shape()), mean(scale.shape()), var(scale.shape()) {
    test::fill_uniform(scale, seed, -2.0, 2.0);
    test::fill_uniform(bias, seed + 1);
    test::fill_uniform(mean, seed + 2);
    test::fill_uniform(var, seed + 3, 0.1, 2.0);
    bn = BatchNormWeights{scale, bias, mean, var, 1e-3f};
  }
};

}  // namespace

TEST(BatchNorm, FastMatchesFormulaOnStridedViewsAndInPlace) {
  const Shape shapes[] = {{2, 7, 5, 3}, {1, 1, 1, 1}, {3, 16, 33, 35}};
  int seed = 0;
  for (const Shape& s : shapes) {
    SCOPED_TRACE(s.str());
    BnFixture f(s.c, 10 * ++seed);
    test::SliceView x(s), y(s);
    OwnedTensor ry(s);
    test::fill_uniform(x.view, seed, -3.0, 3.0);
    batchnorm_forward(f.bn, x.view, y.view);
    batchnorm_forward_reference<float>(f.bn, x.view, ry);
    // a x + b vs scale (x - mean) / sqrt(var + eps) + bias: equal algebraically, rounded
    // differently; terms reach |a x| ~ 2/sqrt(0.1) * 3 ~ 19, a few float ulps of that ~ 1e-5.
    EXPECT_TRUE(test::all_close(y.view, ry, 1e-5, 1e-5));
    OwnedTensorD xd = test::to_double(x.view), yd(s);
    batchnorm_forward_reference<double>(f.bn, xd, yd);
    EXPECT_TRUE(test::all_close(y.view, yd, 1e-5, 1e-5));
    EXPECT_TRUE(y.guard_intact());
    batchnorm_forward(f.bn, x.view, x.view);  // in place: the same operations, bit-identical
    EXPECT_TRUE(test::all_close(x.view, y.view, 0.0));
  }
}

TEST(BatchNorm, GradientCheck) {
  // The float backward (dx = a dy) against finite differences of the double formula.
  const Shape s{2, 5, 3, 4};
  BnFixture f(s.c, 20);
  OwnedTensor dy(s), dx(s);
  test::fill_uniform(dy, 21);
  batchnorm_backward_data(f.bn, dy, dx);
  OwnedTensorD x(s), y(s), wd = test::to_double(dy), analytic = test::to_double(dx);
  test::fill_uniform(x, 22);
  auto loss = [&] {
    batchnorm_forward_reference<double>(f.bn, x, y);
    return test::weighted_sum(y, wd);
  };
  // Linear in x, so finite differences are exact to ~1e-10; the analytic side is a float product
  // a * dy, relatively accurate to ~1e-7.
  EXPECT_TRUE(test::gradient_check(x, loss, analytic, 0, 1e-6, 1e-7, 1e-6));
}

TEST(BatchNorm, FoldIntoConvEqualsConvThenBatchNorm) {
  for (int groups : {1, 2}) {
    SCOPED_TRACE(cat("groups ", groups));
    const Conv2dParams p = Conv2dParams::make(2, 1, 1, groups);
    OwnedTensor x(Shape{2, 4, 9, 8}), w(Shape{6, 4 / groups, 3, 3}), b(Shape{1, 6, 1, 1});
    test::fill_uniform(x, 30);
    test::fill_uniform(w, 31);
    test::fill_uniform(b, 32);
    BnFixture f(6, 33);
    const Shape ys = conv2d_output_shape(p, x.shape(), w.shape());
    OwnedTensor conv(ys), want(ys), got(ys);
    conv2d_forward_reference<float>(p, x, w, b, conv);
    batchnorm_forward_reference<float>(f.bn, conv, want);
    batchnorm_fold_into_conv(f.bn, w, b);
    conv2d_forward_reference<float>(p, x, w, b, got);
    // Sums of 36 products of size <= 1, scaled by |a| <= 6.4: a few float ulps of ~40.
    EXPECT_TRUE(test::all_close(got, want, 2e-5, 1e-5));
  }
}

TEST(BatchNorm, RejectsBadInputs) {
  BnFixture f(3, 40);
  OwnedTensor x(Shape{1, 3, 2, 2}), y(x.shape()), wrong(Shape{1, 3, 2, 3}), four(Shape{1, 4, 2, 2});
  batchnorm_forward(f.bn, x, y);  // the baseline is valid
  test::expect_error([&] { batchnorm_forward(f.bn, x, wrong); }, "batchnorm_forward");
  test::expect_error([&] { batchnorm_forward(f.bn, four, four); }, "batchnorm_forward");
  test::expect_error([&] { batchnorm_backward_data(f.bn, x, wrong); }, "batchnorm_backward_data");
  OwnedTensor empty(Shape{1, 3, 0, 2});
  test::expect_error([&] { batchnorm_forward(f.bn, empty, empty); }, "batchnorm_forward");
  BatchNormWeights missing = f.bn;
  missing.var = Tensor();
  test::expect_error([&] { batchnorm_forward(missing, x, y); }, "batchnorm_forward");
  f.var.data()[1] = -1.f;  // var + eps < 0: a corrupt model
  test::expect_error([&] { batchnorm_forward(f.bn, x, y); }, "batchnorm_forward");
  f.var.data()[1] = 1.f;
  OwnedTensor w(Shape{3, 2, 1, 1}), b(Shape{1, 3, 1, 1}), b4(Shape{1, 4, 1, 1});
  test::expect_error([&] { batchnorm_fold_into_conv(f.bn, w, Tensor()); }, "batchnorm_fold_into_conv");
  test::expect_error([&] { batchnorm_fold_into_conv(f.bn, w, b4); }, "batchnorm_fold_into_conv");
  OwnedTensor w4(Shape{4, 2, 1, 1});
  test::expect_error([&] { batchnorm_fold_into_conv(f.bn, w4, b4); }, "batchnorm_fold_into_conv");
}

}  // namespace cuviz
