// Dropout (inference identity) and flatten_shape: strided copies, in place, gradient check, bad shapes.
#include "kernels/dropout.h"

#include "tests/kernels/op_test_util.h"

namespace cuviz {

TEST(Dropout, IdentityOnStridedViewsAndInPlace) {
  const Shape s{3, 5, 7, 9};
  test::SliceView x(s), y(s), dy(s), dx(s);
  test::fill_uniform(x.view, 1);
  test::fill_uniform(dy.view, 2);
  dropout_forward(x.view, y.view);
  dropout_backward_data(dy.view, dx.view);
  // Copies: exact.
  EXPECT_TRUE(test::all_close(y.view, x.view, 0.0));
  EXPECT_TRUE(test::all_close(dx.view, dy.view, 0.0));
  EXPECT_TRUE(y.guard_intact() && dx.guard_intact());
  OwnedTensor before(s);
  copy(x.view, before);
  dropout_forward(x.view, x.view);
  EXPECT_TRUE(test::all_close(x.view, before, 0.0));
}

TEST(Dropout, GradientCheck) {
  // y = x: the float backward (dx = dy) against finite differences of the float forward. eps is
  // a power of two so x +- eps is exact in float for |x| <= 1; the loss is linear.
  const Shape s{2, 3, 4, 5};
  OwnedTensor dy(s), dx(s);
  test::fill_uniform(dy, 3);
  dropout_backward_data(dy, dx);
  OwnedTensorD x(s), analytic = test::to_double(dx), wd = test::to_double(dy);
  test::fill_uniform(x, 4);
  auto loss = [&] {
    OwnedTensor xf = test::to_float(x), y(s);
    dropout_forward(xf, y);
    return test::weighted_sum(test::to_double(y), wd);
  };
  EXPECT_TRUE(test::gradient_check(x, loss, analytic, 0, 1.0 / 64, 1e-6, 1e-5));
}

TEST(Dropout, FlattenShape) {
  EXPECT_EQ(flatten_shape(Shape{4, 1024, 7, 7}), (Shape{4, 1024 * 49, 1, 1}));
  EXPECT_EQ(flatten_shape(Shape{2, 1000, 1, 1}), (Shape{2, 1000, 1, 1}));
}

TEST(Dropout, RejectsBadInputs) {
  OwnedTensor x(Shape{1, 2, 3, 3}), wrong(Shape{1, 2, 3, 4}), empty(Shape{1, 2, 0, 3});
  test::expect_error([&] { dropout_forward(x, wrong); }, "dropout_forward");
  test::expect_error([&] { dropout_backward_data(x, wrong); }, "dropout_backward_data");
  test::expect_error([&] { dropout_forward(empty, empty); }, "dropout_forward");
}

}  // namespace cuviz
