// The LRP element-wise maps (kernels/lrp.h) on the CPU against their formulas, on strided views
// (a channel slice of a wider tensor, as inside a concat) and in place; zennit's stabiliser signs.
#include <gtest/gtest.h>

#include "kernels/lrp.h"
#include "test_util.h"

namespace cuviz {

TEST(LrpKernels, StabiliserKeepsTheSignAndSendsZeroUp) {
  EXPECT_FLOAT_EQ(lrp_stabilize(2.f, 0.5f), 2.5f);
  EXPECT_FLOAT_EQ(lrp_stabilize(-2.f, 0.5f), -2.5f);
  EXPECT_FLOAT_EQ(lrp_stabilize(0.f, 0.5f), 0.5f);  // zennit: sign(0) = +1
  EXPECT_FLOAT_EQ(lrp_ratio(3.f, 1.f, -1.f, +1, 0.f), 0.f);  // gated off: z <= 0
  EXPECT_FLOAT_EQ(lrp_ratio(3.f, 1.f, -1.f, -1, 0.f), 3.f);
  EXPECT_FLOAT_EQ(lrp_ratio(3.f, 2.f, 0.f, 0, 1.f), 1.f);
}

TEST(LrpKernels, MapsMatchTheirFormulasOnStridedViews) {
  const Shape s{2, 3, 4, 5};
  OwnedTensor wide_r(Shape{2, 5, 4, 5}), den(s), z(s), wide_y(Shape{2, 4, 4, 5});
  test::fill_uniform(wide_r, 1, -2, 2);
  test::fill_uniform(den, 2, -1, 1);
  test::fill_uniform(z, 3, -1, 1);
  const Tensor r = wide_r.channels(1, 3), y = wide_y.channels(1, 3);
  for (int sign : {-1, 0, 1}) {
    lrp_divide(r, den, z, sign, 0.1f, y);
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 3; ++c)
        for (int h = 0; h < 4; ++h)
          for (int w = 0; w < 5; ++w) {
            const float zv = z.at(n, c, h, w), dv = den.at(n, c, h, w);
            const bool gate = sign == 0 || (sign > 0 ? zv > 0 : zv < 0);
            const float want = gate ? r.at(n, c, h, w) / (dv + (dv >= 0 ? 0.1f : -0.1f)) : 0.f;
            ASSERT_FLOAT_EQ(y.at(n, c, h, w), want) << "sign " << sign;
          }
  }
  lrp_clamp(r, +1, y);
  EXPECT_FLOAT_EQ(y.at(1, 2, 3, 4), std::max(r.at(1, 2, 3, 4), 0.f));
  lrp_clamp(r, -1, y);
  EXPECT_FLOAT_EQ(y.at(1, 0, 2, 1), std::min(r.at(1, 0, 2, 1), 0.f));
  OwnedTensor acc(s);
  fill(acc, 1.f);
  lrp_multiply(r, den, 2.f, true, acc);  // acc = 1 + 2 r den
  EXPECT_FLOAT_EQ(acc.at(1, 1, 1, 1), 1.f + 2.f * r.at(1, 1, 1, 1) * den.at(1, 1, 1, 1));
  lrp_multiply(r, den, -1.f, false, acc);  // acc = -r den
  EXPECT_FLOAT_EQ(acc.at(0, 2, 3, 0), -r.at(0, 2, 3, 0) * den.at(0, 2, 3, 0));
  OwnedTensor before(s);
  copy(acc, before);
  lrp_axpy(-0.5f, den, acc);
  EXPECT_FLOAT_EQ(acc.at(1, 2, 0, 3), before.at(1, 2, 0, 3) - 0.5f * den.at(1, 2, 0, 3));
  lrp_multiply(acc, den, 1.f, false, acc);  // in place: acc = acc * den
  EXPECT_FLOAT_EQ(acc.at(0, 0, 0, 0), (before.at(0, 0, 0, 0) - 0.5f * den.at(0, 0, 0, 0)) * den.at(0, 0, 0, 0));
}

}  // namespace cuviz
