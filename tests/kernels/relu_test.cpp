// ReLU: forward/backward against the plain reference, gradient check in double, bad shapes.
#include "kernels/relu.h"

#include <algorithm>
#include <vector>

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

// Guided backpropagation: the reference on hand-picked signs, then the fast path and its masked
// form (the compact stash) bitwise equal to the reference, out of and in place.
TEST(Relu, GuidedBackwardPassesOnlyPositiveGradientsOfActiveUnits) {
  OwnedTensor y(Shape{1, 1, 1, 4}), dy(y.shape()), dx(y.shape());
  const float ys[] = {2.f, 2.f, 0.f, 0.f}, dys[] = {3.f, -3.f, 3.f, -3.f};
  std::copy(ys, ys + 4, y.data());
  std::copy(dys, dys + 4, dy.data());
  relu_backward_data_guided_reference<float>(y, dy, dx);
  const float want[] = {3.f, 0.f, 0.f, 0.f};
  for (int k = 0; k < 4; ++k) EXPECT_EQ(dx.data()[k], want[k]) << k;

  const Shape s{3, 5, 7, 3};  // 105 elements per image: a partial last mask word
  OwnedTensor x(s), yy(s), g(s), ref(s), fast(s);
  test::fill_uniform(x, 8);
  test::fill_uniform(g, 9);
  relu_forward(x, yy);
  relu_backward_data_guided_reference<float>(yy, g, ref);
  relu_backward_data_guided(yy, g, fast);
  EXPECT_TRUE(test::all_close(fast, ref, 0.0));
  std::vector<uint32_t> words(size_t(relu_mask_shape(s).numel()));
  const MaskTensor mask(words.data(), relu_mask_shape(s));
  relu_mask_forward(yy, mask);
  relu_backward_data_guided_masked(mask, g, fast);
  EXPECT_TRUE(test::all_close(fast, ref, 0.0));
  copy(g, fast);
  relu_backward_data_guided_masked(mask, fast, fast);  // in place
  EXPECT_TRUE(test::all_close(fast, ref, 0.0));
  int passed = 0, blocked = 0;  // both cases occur, so the comparison above means something
  for (int64_t k = 0; k < s.numel(); ++k) {
    passed += ref.data()[k] != 0.f;
    blocked += yy.data()[k] > 0.f && g.data()[k] < 0.f;
  }
  EXPECT_GT(passed, 0);
  EXPECT_GT(blocked, 0);
  EXPECT_THROW(relu_backward_data_guided(yy, g, OwnedTensor(Shape{3, 5, 7, 4}).view()), Error);
}

TEST(Relu, RejectsMismatchedShapes) {
  OwnedTensor x(Shape{1, 2, 3, 3}), y(Shape{1, 2, 3, 4});
  EXPECT_THROW(relu_forward(x, y), Error);
  EXPECT_THROW(relu_backward_data(x, x, y), Error);
}

}  // namespace cuviz
