// ReLU: forward/backward against the plain reference, gradient check in double, bad shapes.
#include "kernels/relu.h"

#include "test_util.h"

namespace cuviz {

TEST(Relu, ForwardAndBackwardMatchReferenceInPlaceToo) {
  OwnedTensor x(Shape{3, 5, 7, 9}), y(x.shape()), dy(x.shape()), dx(x.shape()), ry(x.shape()), rdx(x.shape());
  test::fill_uniform(x, 1);
  test::fill_uniform(dy, 2);
  relu_forward(x, y);
  relu_forward_reference<float>(x, ry);
  EXPECT_TRUE(test::all_close(y, ry, 0.0));
  relu_backward_data(y, dy, dx);
  relu_backward_data_reference<float>(ry, dy, rdx);
  EXPECT_TRUE(test::all_close(dx, rdx, 0.0));
  relu_forward(x, x);  // in place
  EXPECT_TRUE(test::all_close(x, ry, 0.0));
}

TEST(Relu, GradientCheckAwayFromKink) {
  OwnedTensorD x(Shape{2, 3, 4, 5}), y(x.shape()), w(x.shape()), dx(x.shape());
  test::fill_uniform(x, 3);
  test::fill_uniform(w, 4);
  relu_forward_reference<double>(x, y);
  relu_backward_data_reference<double>(y, w, dx);
  auto loss = [&] {
    relu_forward_reference<double>(x, y);
    return test::weighted_sum(y, w);
  };
  EXPECT_TRUE(test::gradient_check(x, loss, dx, 0, 1e-6, 1e-8, 1e-6,
                                   [&](int64_t k) { return std::abs(x.data()[k]) < 1e-5; }));
}

TEST(Relu, RejectsMismatchedShapes) {
  OwnedTensor x(Shape{1, 2, 3, 3}), y(Shape{1, 2, 3, 4});
  EXPECT_THROW(relu_forward(x, y), Error);
  EXPECT_THROW(relu_backward_data(x, x, y), Error);
}

}  // namespace cuviz
