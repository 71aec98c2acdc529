// Concat along channels: element placement written out, strided inputs and outputs, inputs that
// already are their slice of the output, a finite-difference check of the backward per input,
// and bad inputs.
#include "kernels/concat.h"

#include <vector>

#include "tests/kernels/op_test_util.h"

namespace cuviz {

namespace {

const Shape kParts[] = {{2, 3, 5, 7}, {2, 1, 5, 7}, {2, 4, 5, 7}};

}  // namespace

TEST(Concat, PlacesEveryChannelStridedInAndOut) {
  std::vector<test::SliceView> xs;
  std::vector<Tensor> views;
  for (const Shape& s : kParts) xs.emplace_back(s);
  int seed = 0;
  for (auto& x : xs) {
    test::fill_uniform(x.view, ++seed);
    views.push_back(x.view);
  }
  const Shape ys = concat_output_shape(std::vector<Shape>(std::begin(kParts), std::end(kParts)));
  ASSERT_EQ(ys, (Shape{2, 8, 5, 7}));
  test::SliceView y(ys);
  concat_forward(views, y.view);
  int c0 = 0;
  for (const Tensor& x : views) {
    // A copy: exact.
    EXPECT_TRUE(test::all_close(y.view.channels(c0, x.c()), x, 0.0)) << "input at channel " << c0;
    c0 += x.c();
  }
  EXPECT_TRUE(y.guard_intact());

  test::SliceView dy(ys);
  test::fill_uniform(dy.view, 9);
  std::vector<test::SliceView> dxs;
  std::vector<Tensor> dviews;
  for (const Shape& s : kParts) dxs.emplace_back(s);
  for (auto& d : dxs) dviews.push_back(d.view);
  concat_backward_data(dy.view, dviews);
  c0 = 0;
  for (size_t i = 0; i < dxs.size(); ++i) {
    EXPECT_TRUE(test::all_close(dviews[i], dy.view.channels(c0, dviews[i].c()), 0.0)) << "gradient " << i;
    EXPECT_TRUE(dxs[i].guard_intact());
    c0 += dviews[i].c();
  }
}

TEST(Concat, InputsThatAlreadyAreTheirSliceOfTheOutputStayIntact) {
  // The network's zero-copy layout: branches write into slices of y; concat must leave them.
  OwnedTensor y(Shape{2, 5, 3, 4}), a(Shape{2, 2, 3, 4});
  test::fill_uniform(y, 3);
  test::fill_uniform(a, 4);
  OwnedTensor before(y.shape());
  copy(y, before);
  const Tensor parts[] = {a, y.channels(2, 3)};
  concat_forward(parts, y);
  EXPECT_TRUE(test::all_close(y.channels(0, 2), a, 0.0));
  EXPECT_TRUE(test::all_close(y.channels(2, 3), before.channels(2, 3), 0.0));
}

TEST(Concat, BackwardPassesAGradientCheckPerInput) {
  // concat is linear and only float copies are involved, so the float backward checked against
  // finite differences of a double forward (written with the same placement rule) is exact up
  // to double rounding of the weighted sum.
  std::vector<OwnedTensor> dxs;
  std::vector<Tensor> dviews;
  for (const Shape& s : kParts) dxs.emplace_back(s);
  for (auto& d : dxs) dviews.push_back(d);
  OwnedTensor dy(Shape{2, 8, 5, 7});
  test::fill_uniform(dy, 5);
  concat_backward_data(dy, dviews);
  OwnedTensorD wd = test::to_double(dy);
  for (size_t i = 0; i < dxs.size(); ++i) {
    OwnedTensorD x(kParts[i]);
    test::fill_uniform(x, 10 + i);
    std::vector<OwnedTensor> xs;
    for (const Shape& s : kParts) xs.emplace_back(s);
    auto loss = [&] {
      // The forward under test, run in float on the perturbed input, then the double loss.
      // The perturbation must survive float rounding, hence the larger eps below.
      for (size_t j = 0; j < xs.size(); ++j) fill(xs[j], 0.5f);
      copy(test::to_float(x), xs[i]);
      std::vector<Tensor> views(xs.begin(), xs.end());
      OwnedTensor y(dy.shape());
      concat_forward(views, y);
      return test::weighted_sum(test::to_double(y), wd);
    };
    OwnedTensorD analytic = test::to_double(dxs[i]);
    // eps = 1/64 is exact in float for |x| <= 1 (x +- eps rounds to a float differing by eps up
    // to 2^-24 relative), and the loss is linear: error ~1e-6 relative.
    EXPECT_TRUE(test::gradient_check(x, loss, analytic, 0, 1.0 / 64, 1e-6, 1e-5)) << "input " << i;
  }
}

TEST(Concat, RejectsBadInputs) {
  OwnedTensor a(Shape{1, 2, 3, 3}), b(Shape{1, 2, 3, 4}), y(Shape{1, 4, 3, 3}), zero(Shape{1, 0, 3, 3});
  const Tensor mismatched[] = {a, b};
  test::expect_error([&] { concat_forward(mismatched, y); }, "concat");
  const Tensor good[] = {a, a};
  concat_forward(good, y);  // the baseline is valid
  OwnedTensor wrong(Shape{1, 5, 3, 3});
  test::expect_error([&] { concat_forward(good, wrong); }, "concat_forward");
  test::expect_error([&] { concat_backward_data(wrong, good); }, "concat_backward_data");
  const Tensor with_zero[] = {a, zero};
  test::expect_error([&] { concat_forward(with_zero, y); }, "concat");
  test::expect_error([&] { concat_forward(std::span<const Tensor>(), y); }, "concat");
}

}  // namespace cuviz
