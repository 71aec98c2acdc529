// Element-wise add: against the reference, in place (accumulation), on strided channel slices,
// and bad shapes.
#include "kernels/add.h"

#include "test_util.h"

namespace cuviz {

TEST(Add, MatchesReferenceAndAccumulatesInPlace) {
  OwnedTensor a(Shape{2, 3, 4, 5}), b(a.shape()), y(a.shape()), ry(a.shape());
  test::fill_uniform(a, 1);
  test::fill_uniform(b, 2);
  add_forward(a, b, y);
  add_forward_reference<float>(a, b, ry);
  EXPECT_TRUE(test::all_close(y, ry, 0.0));  // the same single float addition: bit-exact
  add_forward(a, b, a);                      // a += b
  EXPECT_TRUE(test::all_close(a, ry, 0.0));
}

TEST(Add, WritesOnlyItsChannelSliceOfAStridedView) {
  OwnedTensor big(Shape{2, 6, 3, 3}), x(Shape{2, 2, 3, 3});
  fill(big, 1.f);
  test::fill_uniform(x, 3);
  const Tensor slice = big.channels(2, 2);
  add_forward(slice, x, slice);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 6; ++c)
      for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 3; ++w) {
          const float want = c >= 2 && c < 4 ? 1.f + x.at(n, c - 2, h, w) : 1.f;
          ASSERT_EQ(big.at(n, c, h, w), want) << n << "," << c << "," << h << "," << w;
        }
}

TEST(Add, RejectsMismatchedShapes) {
  OwnedTensor a(Shape{1, 2, 3, 3}), b(Shape{1, 2, 3, 4});
  EXPECT_THROW(add_forward(a, b, a), Error);
  EXPECT_THROW(add_forward(a, a, b), Error);
}

}  // namespace cuviz
