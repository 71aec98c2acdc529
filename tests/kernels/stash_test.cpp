// The backward stash of compact plans (nn/network.cpp): a ReLU's bit mask and max pooling's
// winners must give bitwise the same gradients as the backwards that read the activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "test_util.h"

namespace cuviz {
namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int i = 0; i < a.n(); ++i)
    if (std::memcmp(a.image(i), b.image(i), size_t(a.shape().image_size()) * sizeof(float)) != 0) return false;
  return true;
}

// y = relu(x) for x in [-1, 1) (105 elements per image: not a multiple of 32), image 1 all off.
OwnedTensor relu_output(Shape s) {
  OwnedTensor x(s), y(s);
  test::fill_uniform(x.view(), 5);
  for (int64_t k = 0; k < s.image_size(); ++k) x.image(1)[k] = -std::abs(x.image(1)[k]);
  relu_forward(x, y);
  return y;
}

TEST(ReluMask, BitsAreYPositiveAndSpareBitsZero) {
  const Shape s{3, 5, 7, 3};
  const OwnedTensor y = relu_output(s);
  std::vector<uint32_t> words(size_t(relu_mask_shape(s).numel()), 0xdeadbeef);
  const MaskTensor mask(words.data(), relu_mask_shape(s));
  relu_mask_forward(y, mask);
  const int64_t m = s.image_size(), per = relu_mask_words(m);
  ASSERT_EQ(per, 4);
  for (int i = 0; i < s.n; ++i) {
    for (int64_t k = 0; k < m; ++k) EXPECT_EQ(mask_bit(mask.image(i), k), y.image(i)[k] > 0.f) << i << " " << k;
    EXPECT_EQ(mask.image(i)[per - 1] >> (m % 32), 0u) << "spare bits of image " << i;
  }
}

TEST(ReluMask, MaskedBackwardsMatchPlainAndRedirectedBitwise) {
  const Shape s{3, 5, 7, 3};
  const OwnedTensor y = relu_output(s);
  OwnedTensor dy(s), want(s), got(s);
  test::fill_uniform(dy.view(), 6);
  std::vector<uint32_t> words(size_t(relu_mask_shape(s).numel()));
  const MaskTensor mask(words.data(), relu_mask_shape(s));
  relu_mask_forward(y, mask);
  for (bool redirected : {false, true}) {
    (redirected ? relu_backward_data_redirected : relu_backward_data)(y, dy, want);
    relu_backward_data_masked(mask, dy, got, redirected);
    EXPECT_TRUE(bitwise_equal(got, want)) << "redirected " << redirected;
    OwnedTensor in_place(s);
    copy(dy, in_place);
    relu_backward_data_masked(mask, in_place, in_place, redirected);
    EXPECT_TRUE(bitwise_equal(in_place, want)) << "in place, redirected " << redirected;
  }
  // Image 1 is all off: the redirected rule passes its negative dy, the plain one nothing.
  relu_backward_data_masked(mask, dy, got, true);
  bool some = false;
  for (int64_t k = 0; k < s.image_size(); ++k) some |= got.image(1)[k] != 0.f;
  EXPECT_TRUE(some);
}

TEST(ReluMask, RefusesAWrongMaskShape) {
  const OwnedTensor y(Shape{2, 1, 1, 40});
  std::vector<uint32_t> words(2);
  EXPECT_THROW(relu_mask_forward(y, MaskTensor(words.data(), Shape{1, 1, 1, 2})), Error);
}

Pool2dParams pool(int k, int s, int pad, bool ceil, int dil = 1) {
  Pool2dParams p = Pool2dParams::make(PoolMode::max, k, s, pad, ceil);
  p.dilation_h = p.dilation_w = dil;
  return p;
}

// Quantised inputs create ties (first maximum in scan order wins); plane (0, 0) is all -inf.
void check_winners(const Pool2dParams& p, Shape xs) {
  OwnedTensor x(xs);
  test::fill_uniform(x.view(), 7);
  for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] = std::round(x.data()[k] * 4.f) / 4.f;
  for (int64_t k = 0; k < int64_t(xs.h) * xs.w; ++k) x.data()[k] = -std::numeric_limits<float>::infinity();
  const Shape ys = pool2d_output_shape(p, xs);
  OwnedTensor y_want(ys), y(ys), dy(ys), dx_want(xs), dx(xs);
  test::fill_uniform(dy.view(), 8);
  pool2d_forward(p, x, y_want);
  pool2d_backward_data(p, x, y_want, dy, dx_want);
  std::vector<int32_t> idx(size_t(ys.numel()), -7);
  const WinnerTensor winners(idx.data(), ys);
  pool2d_forward_winners(p, x, y, winners);
  EXPECT_TRUE(bitwise_equal(y, y_want));
  for (int64_t o = 0; o < ys.numel(); ++o) {
    const int64_t plane = o / (int64_t(ys.h) * ys.w);
    ASSERT_GE(idx[o], 0) << o;
    EXPECT_EQ(x.data()[plane * xs.h * xs.w + idx[o]], y.data()[o]) << o;
  }
  pool2d_backward_data_winners(p, winners, dy, dx);
  EXPECT_TRUE(bitwise_equal(dx, dx_want));
}

TEST(PoolWinners, MatchTheRecomputingBackwardBitwise) {
  check_winners(pool(3, 2, 0, true), Shape{2, 5, 57, 57});  // GoogLeNet's pool1
  check_winners(pool(3, 1, 1, false), Shape{3, 4, 14, 13});  // inception pool branch
  check_winners(pool(2, 2, 0, false), Shape{2, 3, 15, 11});
  check_winners(pool(3, 2, 1, false, 2), Shape{2, 3, 17, 16});
  Pool2dParams g = pool(1, 1, 0, false);
  g.global = true;
  check_winners(g, Shape{2, 9, 6, 5});
}

TEST(PoolWinners, RefuseAveragePooling) {
  const Pool2dParams p = Pool2dParams::make(PoolMode::average, 2, 2);
  const OwnedTensor x(Shape{1, 1, 4, 4}), y(Shape{1, 1, 2, 2});
  std::vector<int32_t> idx(4);
  EXPECT_THROW(pool2d_forward_winners(p, x, y, WinnerTensor(idx.data(), y.shape())), Error);
}

}  // namespace
}  // namespace cuviz
