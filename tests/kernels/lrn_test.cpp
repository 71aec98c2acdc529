// LRN across channels: the ONNX window (odd and even sizes) computed independently, fast path ==
// reference on random shapes and strided views, in-place use, double gradient checks, bad inputs.
#include "kernels/lrn.h"

#include <cmath>
#include <vector>

#include "tests/kernels/op_test_util.h"

namespace cuviz {

TEST(Lrn, MatchesTheOnnxFormulaWrittenOut) {
  // ONNX LRN: square_sum[c] = sum over c' in [max(0, c - floor((size-1)/2)), min(C-1, c + ceil((size-1)/2))],
  // y = x / (bias + alpha / size * square_sum)^beta. Checked for an odd and an even size.
  const int C = 6;
  for (int size : {3, 4}) {
    const LrnParams p{size, 0.5f, 0.75f, 2.f};
    OwnedTensor x(Shape{1, C, 1, 2}), y(x.shape());
    test::fill_uniform(x, 5, -2.0, 2.0);
    lrn_forward(p, x, y);
    for (int c = 0; c < C; ++c)
      for (int w = 0; w < 2; ++w) {
        const int lo = std::max(0, c - int(std::floor((size - 1) / 2.0)));
        const int hi = std::min(C - 1, c + int(std::ceil((size - 1) / 2.0)));
        double sq = 0;
        for (int cc = lo; cc <= hi; ++cc) sq += double(x.at(0, cc, 0, w)) * x.at(0, cc, 0, w);
        const double want = x.at(0, c, 0, w) / std::pow(p.k + p.alpha / size * sq, p.beta);
        // float vs double evaluation of the same formula: a few float ulps of |y| <= 2.
        EXPECT_NEAR(y.at(0, c, 0, w), want, 1e-6) << "size " << size << " c " << c;
      }
  }
}

TEST(Lrn, FastMatchesReferenceOnRandomShapesAndStridedViews) {
  const LrnParams params[] = {{5, 1e-4f, 0.75f, 1.f}, {4, 0.3f, 0.6f, 1.5f}, {1, 1.f, 1.f, 1.f}, {7, 2.f, 0.75f, 1.f}};
  const Shape shapes[] = {{2, 7, 5, 3}, {1, 3, 1, 1}, {3, 10, 9, 11}, {2, 64, 15, 13}};
  int seed = 0;
  for (const LrnParams& p : params)
    for (const Shape& s : shapes) {
      SCOPED_TRACE(cat("size ", p.size, " alpha ", p.alpha, " shape ", s.str()));
      test::SliceView x(s), y(s), dy(s), dx(s);
      OwnedTensor ry(s), rdx(s);
      test::fill_uniform(x.view, ++seed, -2.0, 2.0);
      test::fill_uniform(dy.view, ++seed);
      lrn_forward(p, x.view, y.view);
      lrn_forward_reference<float>(p, x.view, ry);
      // Same formula and summation order; a few ulps allowed for how the compiler contracts
      // k + coef * acc and evaluates pow.
      EXPECT_TRUE(test::all_close(y.view, ry, 1e-7, 1e-6));
      lrn_backward_data(p, x.view, y.view, dy.view, dx.view);
      lrn_backward_data_reference<float>(p, x.view, ry, dy.view, rdx);
      // As above, plus the difference of two terms of size ~|dy|: absolute float rounding.
      EXPECT_TRUE(test::all_close(dx.view, rdx, 1e-6, 1e-5));
      EXPECT_TRUE(y.guard_intact() && dx.guard_intact());
    }
}

TEST(Lrn, InPlaceForwardAndBackward) {
  const LrnParams p{5, 0.5f, 0.75f, 1.f};
  OwnedTensor x(Shape{2, 9, 31, 70}), y(x.shape()), dy(x.shape()), dx(x.shape());  // above the OpenMP threshold
  test::fill_uniform(x, 31, -2.0, 2.0);
  test::fill_uniform(dy, 32);
  lrn_forward(p, x, y);
  lrn_backward_data(p, x, y, dy, dx);
  OwnedTensor xi(x.shape()), dyi(x.shape());
  copy(x, xi);
  copy(dy, dyi);
  lrn_backward_data(p, x, y, dyi, dyi);  // dx aliases dy
  lrn_forward(p, xi, xi);                // y aliases x
  // In place must give bit-identical results: the same operations on the same values.
  EXPECT_TRUE(test::all_close(xi, y, 0.0));
  EXPECT_TRUE(test::all_close(dyi, dx, 0.0));
}

TEST(Lrn, GradientCheckInDouble) {
  // alpha large enough that the cross-channel term of the backward is of the same order as
  // the diagonal one (with Caffe's alpha = 1e-4 a wrong cross term would hide in the tolerance).
  const LrnParams params[] = {{5, 2.f, 0.75f, 1.f}, {4, 1.f, 0.5f, 2.f}, {7, 3.f, 0.75f, 1.f}, {1, 1.f, 1.5f, 1.f}};
  int seed = 40;
  for (const LrnParams& p : params) {
    SCOPED_TRACE(cat("size ", p.size));
    OwnedTensorD x(Shape{2, 6, 3, 4}), y(x.shape()), w(x.shape()), dx(x.shape());
    test::fill_uniform(x, ++seed, -2.0, 2.0);
    test::fill_uniform(w, ++seed);
    lrn_forward_reference<double>(p, x, y);
    lrn_backward_data_reference<double>(p, x, y, w, dx);
    auto loss = [&] {
      lrn_forward_reference<double>(p, x, y);
      return test::weighted_sum(y, w);
    };
    // Smooth function: central differences have O(eps^2) ~ 1e-12 truncation error plus
    // ~1e-10 cancellation error; 1e-8 absolute / 1e-6 relative leaves a wide margin.
    EXPECT_TRUE(test::gradient_check(x, loss, dx, 0, 1e-6, 1e-8, 1e-6));
  }
}

TEST(Lrn, RejectsBadInputs) {
  OwnedTensor x(Shape{1, 4, 3, 3}), y(x.shape()), wrong(Shape{1, 4, 3, 2}), empty(Shape{1, 4, 0, 3});
  const LrnParams p;
  lrn_forward(p, x, y);  // the baseline is valid
  test::expect_error([&] { lrn_forward(p, x, wrong); }, "lrn_forward");
  test::expect_error([&] { lrn_forward(p, empty, empty); }, "lrn_forward");
  test::expect_error([&] { lrn_backward_data(p, x, y, wrong, y); }, "lrn_backward_data");
  test::expect_error([&] { lrn_backward_data(p, x, y, y, wrong); }, "lrn_backward_data");
  test::expect_error([&] { lrn_forward(LrnParams{0, 1e-4f, 0.75f, 1.f}, x, y); }, "lrn_forward");
  test::expect_error([&] { lrn_forward(LrnParams{5, 1e-4f, 0.75f, 0.f}, x, y); }, "lrn_forward");
  test::expect_error([&] { lrn_forward(LrnParams{5, -1.f, 0.75f, 1.f}, x, y); }, "lrn_forward");
}

}  // namespace cuviz
