// conv2d: the fast CPU path (im2col + SGEMM, col2im) against the plain seven-loop reference on
// many shapes (odd sizes, stride, asymmetric padding, dilation, groups, 1x1 and 7x7, batch,
// strided views), finite-difference gradient checks of the double reference, and bad inputs.
#include "kernels/conv2d.h"

#include <cmath>
#include <vector>

#include "test_util.h"

namespace cuviz {
namespace {

// Tolerance for fast float vs float reference: both round each of the K = C/G*kh*kw products and
// sums in float, in different orders (SGEMM blocks, reference sequential). With inputs in [-1, 1]
// the rounding error of a K-term sum is bounded by ~K * 2^-24 * sum|terms| <= K^2 * 6e-8; in practice
// errors grow like sqrt(K) * |terms| * 2^-24. We allow 1e-5 * K absolute, a bound that a wrong
// index (an error of order 1 / K of a typical term, ~0.1) still breaks by orders of magnitude.
double conv_atol(int64_t k) { return 1e-5 * double(k) + 1e-6; }

struct Case {
  const char* name;
  int n, c, h, w, o, kh, kw;
  Conv2dParams p;
  bool bias;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Conv2dParams params(int sh, int sw, int pt, int pl, int pb, int pr, int dh, int dw, int groups, bool relu = false) {
  return Conv2dParams{sh, sw, pt, pl, pb, pr, dh, dw, groups, relu};
}

const std::vector<Case>& cases() {
  static const std::vector<Case> cs = {
      {"plain3x3", 1, 3, 8, 8, 4, 3, 3, Conv2dParams::make(1, 1), true},
      {"odd_sizes_no_bias", 2, 5, 11, 7, 3, 3, 2, Conv2dParams::make(1, 0), false},
      {"stride2_pad1", 3, 4, 13, 9, 6, 3, 3, Conv2dParams::make(2, 1), true},
      {"asym_stride_pad", 2, 3, 10, 12, 5, 3, 5, params(2, 3, 0, 2, 1, 0, 1, 1, 1), true},
      {"dilation2", 2, 4, 15, 13, 3, 3, 3, params(1, 1, 2, 2, 2, 2, 2, 2, 1), true},
      {"dilation_asym", 1, 2, 12, 11, 4, 2, 3, params(2, 1, 1, 0, 0, 3, 3, 2, 1), false},
      {"groups2", 2, 6, 9, 9, 4, 3, 3, params(1, 1, 1, 1, 1, 1, 1, 1, 2), true},
      {"depthwise", 2, 5, 8, 10, 5, 3, 3, params(2, 2, 1, 1, 1, 1, 1, 1, 5), true},
      {"groups3_dilated", 1, 9, 10, 10, 6, 3, 2, params(1, 2, 2, 1, 0, 1, 2, 1, 3), false},
      {"pointwise", 3, 16, 7, 9, 12, 1, 1, Conv2dParams::make(1, 0), true},
      {"pointwise_groups", 2, 8, 5, 6, 6, 1, 1, params(1, 1, 0, 0, 0, 0, 1, 1, 2), true},
      {"pointwise_stride2", 2, 7, 9, 9, 5, 1, 1, Conv2dParams::make(2, 0), true},
      {"pointwise_padded", 1, 4, 5, 5, 3, 1, 1, Conv2dParams::make(1, 1), true},
      {"7x7_s2_p3", 2, 3, 23, 19, 8, 7, 7, Conv2dParams::make(2, 3), true},
      {"kernel_equals_padded_input", 2, 2, 3, 4, 3, 5, 6, Conv2dParams::make(1, 1), true},
      {"wide_k", 1, 64, 6, 6, 10, 3, 3, Conv2dParams::make(1, 1), true},
      // Big enough that the fast path cuts images into several column tiles (mid-row boundaries)
      // and backward-data into channel chunks and pixel tiles.
      {"many_tiles", 1, 16, 37, 41, 10, 3, 3, Conv2dParams::make(1, 1), true},
      {"many_tiles_batch", 3, 12, 45, 39, 7, 5, 5, params(2, 2, 2, 1, 2, 1, 1, 1, 1), false},
      {"many_tiles_groups", 1, 8, 50, 50, 8, 3, 3, params(1, 1, 1, 1, 1, 1, 1, 1, 4), true},
      {"pointwise_many_tiles", 1, 72, 30, 31, 9, 1, 1, Conv2dParams::make(1, 0), true},
      {"bwd_data_pixel_tiles", 1, 32, 40, 40, 4, 3, 3, Conv2dParams::make(1, 1), false},
      // 3x3 stride 1 with >= 16 channels in and out: the Winograd F(2x2, 3x3) path, forward and
      // backward-data. Odd output sizes (a tile's last row/column is dropped), every pad from 0 to
      // 2 on some side, and enough tiles for several blocks over the threads.
      {"winograd_pad1_odd", 2, 16, 9, 11, 20, 3, 3, Conv2dParams::make(1, 1), true},
      {"winograd_pad0", 1, 24, 8, 7, 16, 3, 3, Conv2dParams::make(1, 0), false},
      {"winograd_asym_pad", 3, 17, 6, 10, 18, 3, 3, params(1, 1, 2, 0, 1, 2, 1, 1, 1), true},
      {"winograd_many_blocks", 4, 16, 34, 30, 40, 3, 3, Conv2dParams::make(1, 1), true},
  };
  return cs;
}

class Conv2dCases : public ::testing::TestWithParam<Case> {};

TEST_P(Conv2dCases, FastForwardMatchesReference) {
  const Case& t = GetParam();
  for (bool relu : {false, true}) {
    Conv2dParams p = t.p;
    p.fuse_relu = relu;
    OwnedTensor x(Shape{t.n, t.c, t.h, t.w}), w(Shape{t.o, t.c / p.groups, t.kh, t.kw}), b(Shape{1, t.o, 1, 1});
    test::fill_uniform(x, 11);
    test::fill_uniform(w, 12);
    test::fill_uniform(b, 13);
    const Tensor bias = t.bias ? b.view() : Tensor();
    const Shape ys = conv2d_output_shape(p, x.shape(), w.shape());
    OwnedTensor y(ys), ry(ys);
    fill(y, NAN);  // overwrite semantics: nothing of the old contents may survive
    conv2d_forward(p, x, w, bias, y);
    conv2d_forward_reference<float>(p, x, w, bias, ry);
    EXPECT_TRUE(test::all_close(y, ry, conv_atol(int64_t(w.c()) * t.kh * t.kw))) << t.name << " relu " << relu;
    if (relu) {
      bool any_zero = false;
      for (int64_t k = 0; k < y.numel(); ++k) any_zero |= y.data()[k] == 0.f;
      EXPECT_TRUE(any_zero) << "fuse_relu should clamp some outputs of random data";
    }
  }
}

TEST_P(Conv2dCases, FastBackwardMatchesReference) {
  const Case& t = GetParam();
  const Conv2dParams& p = t.p;
  OwnedTensor x(Shape{t.n, t.c, t.h, t.w}), w(Shape{t.o, t.c / p.groups, t.kh, t.kw});
  test::fill_uniform(x, 21);
  test::fill_uniform(w, 22);
  const Shape ys = conv2d_output_shape(p, x.shape(), w.shape());
  OwnedTensor dy(ys), dx(x.shape()), rdx(x.shape()), dw(w.shape()), rdw(w.shape()), db(Shape{1, t.o, 1, 1}),
      rdb(db.shape());
  test::fill_uniform(dy, 23);
  fill(dx, NAN);
  fill(dw, NAN);
  fill(db, NAN);
  conv2d_backward_data(p, dy, w, dx);
  conv2d_backward_data_reference<float>(p, dy, w, rdx);
  // dx sums at most O/G * kh * kw terms per element.
  EXPECT_TRUE(test::all_close(dx, rdx, conv_atol(int64_t(t.o / p.groups) * t.kh * t.kw))) << t.name;
  const Tensor bias_grad = t.bias ? db.view() : Tensor();
  conv2d_backward_weight(p, x, dy, dw, bias_grad);
  conv2d_backward_weight_reference<float>(p, x, dy, rdw, t.bias ? rdb.view() : Tensor());
  // dw and db sum N * out_h * out_w terms.
  const int64_t terms = int64_t(ys.n) * ys.h * ys.w;
  EXPECT_TRUE(test::all_close(dw, rdw, conv_atol(terms))) << t.name;
  if (t.bias) EXPECT_TRUE(test::all_close(db, rdb, conv_atol(terms))) << t.name;
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dCases, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// Writing into a channel slice of a bigger tensor (an inception branch into its concat) must leave
// the other channels alone; reading x and dy from strided views must give the dense result.
TEST(Conv2d, StridedViewsInAndOut) {
  const Conv2dParams p = Conv2dParams::make(1, 1);
  OwnedTensor big_x(Shape{3, 9, 10, 11}), w(Shape{5, 4, 3, 3}), b(Shape{1, 5, 1, 1});
  test::fill_uniform(big_x, 31);
  test::fill_uniform(w, 32);
  test::fill_uniform(b, 33);
  const Tensor x = big_x.channels(2, 4);  // batch stride 9*10*11, reads channels 2..5
  OwnedTensor dense_x(x.shape());
  copy(x, dense_x);

  for (int c0 : {0, 3, 7}) {  // first, middle and last slice positions of a 12-channel concat
    OwnedTensor big_y(Shape{3, 12, 10, 11});
    fill(big_y, 7.f);
    const Tensor y = big_y.channels(c0, 5);
    conv2d_forward(p, x, w, b, y);
    OwnedTensor ry(y.shape()), got(y.shape());
    conv2d_forward_reference<float>(p, dense_x, w, b, ry);
    copy(y, got);
    EXPECT_TRUE(test::all_close(got, ry, conv_atol(36)));
    int64_t touched = 0;
    for (int n = 0; n < 3; ++n)
      for (int c = 0; c < 12; ++c)
        if (c < c0 || c >= c0 + 5)
          for (int i = 0; i < 10; ++i)
            for (int j = 0; j < 11; ++j) touched += big_y.at(n, c, i, j) != 7.f;
    EXPECT_EQ(touched, 0) << "slice at " << c0;
  }

  // Backward through views: dy a slice of a bigger gradient, dx a slice of a bigger input gradient.
  OwnedTensor big_dy(Shape{3, 8, 10, 11}), big_dx(Shape{3, 9, 10, 11});
  test::fill_uniform(big_dy, 34);
  fill(big_dx, 7.f);
  const Tensor dy = big_dy.channels(1, 5), dx = big_dx.channels(2, 4);
  OwnedTensor dense_dy(dy.shape()), rdx(dx.shape()), got_dx(dx.shape()), dw(w.shape()), rdw(w.shape()),
      db(b.shape()), rdb(b.shape());
  copy(dy, dense_dy);
  conv2d_backward_data(p, dy, w, dx);
  conv2d_backward_data_reference<float>(p, dense_dy, w, rdx);
  copy(dx, got_dx);
  EXPECT_TRUE(test::all_close(got_dx, rdx, conv_atol(45)));
  for (int n = 0; n < 3; ++n)
    for (int c : {0, 1, 6, 7, 8})
      EXPECT_EQ(big_dx.at(n, c, 4, 5), 7.f) << "dx channel " << c << " outside the slice was written";
  conv2d_backward_weight(p, x, dy, dw, db);
  conv2d_backward_weight_reference<float>(p, dense_x, dense_dy, rdw, rdb);
  EXPECT_TRUE(test::all_close(dw, rdw, conv_atol(3 * 10 * 11)));
  EXPECT_TRUE(test::all_close(db, rdb, conv_atol(3 * 10 * 11)));
}

// The same pointwise conv through the no-im2col path on a strided batch.
// The Winograd path reads x and writes y and dx through image(n) only: channel slices of bigger
// tensors (concat branches in a network) must work and leave the other channels alone.
TEST(Conv2d, WinogradOnStridedViews) {
  const Conv2dParams p = Conv2dParams::make(1, 1);
  OwnedTensor big_x(Shape{2, 40, 7, 9}), w(Shape{20, 16, 3, 3}), b(Shape{1, 20, 1, 1});
  test::fill_uniform(big_x, 41);
  test::fill_uniform(w, 42);
  test::fill_uniform(b, 43);
  const Tensor x = big_x.channels(10, 16);
  OwnedTensor dense_x(x.shape()), big_y(Shape{2, 50, 7, 9}), ry(Shape{2, 20, 7, 9}), got(ry.shape());
  copy(x, dense_x);
  fill(big_y, 7.f);
  const Tensor y = big_y.channels(30, 20);
  conv2d_forward(p, x, w, b, y);
  conv2d_forward_reference<float>(p, dense_x, w, b, ry);
  copy(y, got);
  EXPECT_TRUE(test::all_close(got, ry, conv_atol(16 * 9)));
  EXPECT_EQ(big_y.at(1, 29, 6, 8), 7.f);
  EXPECT_EQ(big_y.at(0, 0, 0, 0), 7.f);

  OwnedTensor big_dy(Shape{2, 25, 7, 9}), big_dx(Shape{2, 40, 7, 9}), rdx(x.shape()), got_dx(x.shape());
  test::fill_uniform(big_dy, 44);
  fill(big_dx, 7.f);
  const Tensor dy = big_dy.channels(5, 20), dx = big_dx.channels(10, 16);
  OwnedTensor dense_dy(dy.shape());
  copy(dy, dense_dy);
  conv2d_backward_data(p, dy, w, dx);
  conv2d_backward_data_reference<float>(p, dense_dy, w, rdx);
  copy(dx, got_dx);
  EXPECT_TRUE(test::all_close(got_dx, rdx, conv_atol(20 * 9)));
  EXPECT_EQ(big_dx.at(1, 9, 6, 8), 7.f);
  EXPECT_EQ(big_dx.at(0, 26, 0, 0), 7.f);
}

// The Winograd path keeps transformed weights between calls; weights changed in place (a training
// step) must be transformed again, forward and backward.
TEST(Conv2d, WinogradNoticesWeightsChangedInPlace) {
  const Conv2dParams p = Conv2dParams::make(1, 1);
  OwnedTensor x(Shape{1, 16, 6, 6}), w(Shape{16, 16, 3, 3}), y(Shape{1, 16, 6, 6}), ry(y.shape());
  OwnedTensor dy(y.shape()), dx(x.shape()), rdx(x.shape());
  test::fill_uniform(x, 51);
  test::fill_uniform(dy, 52);
  for (int seed : {53, 54}) {
    test::fill_uniform(w, seed);
    conv2d_forward(p, x, w, Tensor(), y);
    conv2d_forward_reference<float>(p, x, w, Tensor(), ry);
    EXPECT_TRUE(test::all_close(y, ry, conv_atol(16 * 9))) << "weights from seed " << seed;
    conv2d_backward_data(p, dy, w, dx);
    conv2d_backward_data_reference<float>(p, dy, w, rdx);
    EXPECT_TRUE(test::all_close(dx, rdx, conv_atol(16 * 9))) << "weights from seed " << seed;
  }
}

TEST(Conv2d, PointwiseOnStridedBatch) {
  const Conv2dParams p = Conv2dParams::make(1, 0);
  OwnedTensor big_x(Shape{2, 10, 6, 7}), w(Shape{4, 6, 1, 1});
  test::fill_uniform(big_x, 41);
  test::fill_uniform(w, 42);
  const Tensor x = big_x.channels(3, 6);
  OwnedTensor dense_x(x.shape()), y(Shape{2, 4, 6, 7}), ry(y.shape());
  copy(x, dense_x);
  conv2d_forward(p, x, w, Tensor(), y);
  conv2d_forward_reference<float>(p, dense_x, w, Tensor(), ry);
  EXPECT_TRUE(test::all_close(y, ry, conv_atol(6)));
}

// Central differences on the double reference. The loss L = sum_k s_k y_k is linear in x, w and b,
// so the only error of the difference quotient is rounding: ~1e-16 * |L| / eps ~ 1e-9 for |L| ~ 10,
// well inside atol 1e-7 + rtol 1e-6.
struct GradCase {
  const char* name;
  int n, c, h, w, o, kh, kw;
  Conv2dParams p;
};
void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

class Conv2dGrad : public ::testing::TestWithParam<GradCase> {};

TEST_P(Conv2dGrad, BackwardMatchesFiniteDifferences) {
  const GradCase& t = GetParam();
  const Conv2dParams& p = t.p;
  OwnedTensorD x(Shape{t.n, t.c, t.h, t.w}), w(Shape{t.o, t.c / p.groups, t.kh, t.kw}), b(Shape{1, t.o, 1, 1});
  test::fill_uniform(x, 51);
  test::fill_uniform(w, 52);
  test::fill_uniform(b, 53);
  const Shape ys = conv2d_output_shape(p, x.shape(), w.shape());
  OwnedTensorD y(ys), seed(ys), dx(x.shape()), dw(w.shape()), db(b.shape());
  test::fill_uniform(seed, 54);
  auto loss = [&] {
    conv2d_forward_reference<double>(p, x, w, b, y);
    return test::weighted_sum(y, seed);
  };
  conv2d_backward_data_reference<double>(p, seed, w, dx);
  conv2d_backward_weight_reference<double>(p, x, seed, dw, db);
  EXPECT_TRUE(test::gradient_check(x, loss, dx, 0, 1e-6, 1e-7, 1e-6)) << "dx " << t.name;
  EXPECT_TRUE(test::gradient_check(w, loss, dw, 0, 1e-6, 1e-7, 1e-6)) << "dw " << t.name;
  EXPECT_TRUE(test::gradient_check(b, loss, db, 0, 1e-6, 1e-7, 1e-6)) << "db " << t.name;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2dGrad,
    ::testing::Values(GradCase{"plain", 2, 3, 6, 5, 4, 3, 3, Conv2dParams::make(1, 1)},
                      GradCase{"stride_asym_pad", 2, 2, 7, 8, 3, 3, 2, params(2, 3, 0, 1, 2, 1, 1, 1, 1)},
                      GradCase{"dilated_groups", 1, 4, 8, 7, 6, 2, 3, params(1, 2, 1, 2, 1, 0, 2, 2, 2)},
                      GradCase{"pointwise", 2, 5, 3, 4, 3, 1, 1, Conv2dParams::make(1, 0)}),
    [](const auto& info) { return std::string(info.param.name); });

// The float fast path must also agree with the double reference through the same loss: this ties
// the SGEMM path to the finite-difference-checked maths, not only to the float reference.
TEST(Conv2d, FastBackwardAgreesWithDoubleReference) {
  const Conv2dParams p = params(2, 1, 1, 0, 2, 1, 1, 2, 2);
  OwnedTensor x(Shape{2, 4, 9, 8}), w(Shape{6, 2, 3, 3}), dx(x.shape()), dw(w.shape()), db(Shape{1, 6, 1, 1});
  test::fill_uniform(x, 61);
  test::fill_uniform(w, 62);
  const Shape ys = conv2d_output_shape(p, x.shape(), w.shape());
  OwnedTensor dy(ys);
  test::fill_uniform(dy, 63);
  conv2d_backward_data(p, dy, w, dx);
  conv2d_backward_weight(p, x, dy, dw, db);
  OwnedTensorD xd = test::to_double(x), wd = test::to_double(w), dyd = test::to_double(dy);
  OwnedTensorD rdx(x.shape()), rdw(w.shape()), rdb(db.shape());
  conv2d_backward_data_reference<double>(p, dyd, wd, rdx);
  conv2d_backward_weight_reference<double>(p, xd, dyd, rdw, rdb);
  EXPECT_TRUE(test::all_close(dx, rdx, conv_atol(3 * 9)));
  EXPECT_TRUE(test::all_close(dw, rdw, conv_atol(2 * 5 * 7)));
  EXPECT_TRUE(test::all_close(db, rdb, conv_atol(2 * 5 * 7)));
}

TEST(Conv2d, RejectsBadInputs) {
  OwnedTensor x(Shape{2, 4, 8, 8}), w(Shape{6, 4, 3, 3}), b(Shape{1, 6, 1, 1}), y(Shape{2, 6, 8, 8});
  const Conv2dParams ok = Conv2dParams::make(1, 1);
  EXPECT_NO_THROW(conv2d_forward(ok, x, w, b, y));
  // Wrong input channels for the weights.
  OwnedTensor w3(Shape{6, 3, 3, 3});
  EXPECT_THROW(conv2d_forward(ok, x, w3, b, y), Error);
  // Groups that do not divide the channels (4 inputs, 3 groups), or the outputs (6 outputs, 4 groups).
  EXPECT_THROW(conv2d_output_shape(params(1, 1, 1, 1, 1, 1, 1, 1, 3), Shape{1, 4, 8, 8}, Shape{6, 1, 3, 3}),
               Error);
  EXPECT_THROW(conv2d_output_shape(params(1, 1, 1, 1, 1, 1, 1, 1, 4), Shape{1, 4, 8, 8}, Shape{6, 1, 3, 3}),
               Error);
  // Bias of the wrong size; output of the wrong shape.
  OwnedTensor b5(Shape{1, 5, 1, 1}), y_bad(Shape{2, 6, 7, 8});
  EXPECT_THROW(conv2d_forward(ok, x, w, b5, y), Error);
  EXPECT_THROW(conv2d_forward(ok, x, w, b, y_bad), Error);
  EXPECT_THROW(conv2d_backward_data(ok, y_bad, w, x), Error);
  EXPECT_THROW(conv2d_backward_weight(ok, x, y, w3, b), Error);
  EXPECT_THROW(conv2d_backward_weight(ok, x, y, w, b5), Error);
  // Zero-sized dimensions.
  EXPECT_THROW(conv2d_output_shape(ok, Shape{1, 4, 0, 8}, Shape{6, 4, 3, 3}), Error);
  EXPECT_THROW(conv2d_output_shape(ok, Shape{1, 4, 8, 8}, Shape{0, 4, 3, 3}), Error);
  // Negative padding, stride or dilation < 1, groups < 1.
  EXPECT_THROW(conv2d_output_shape(params(1, 1, -1, 0, 0, 0, 1, 1, 1), x.shape(), w.shape()), Error);
  EXPECT_THROW(conv2d_output_shape(params(0, 1, 1, 1, 1, 1, 1, 1, 1), x.shape(), w.shape()), Error);
  EXPECT_THROW(conv2d_output_shape(params(1, 1, 1, 1, 1, 1, 1, 0, 1), x.shape(), w.shape()), Error);
  EXPECT_THROW(conv2d_output_shape(params(1, 1, 1, 1, 1, 1, 1, 1, 0), x.shape(), w.shape()), Error);
  // Kernel larger than the padded input: 3x3 on 2x2 unpadded, and 3x3 dilated 4 (9x9) on 8x8 + 0.
  EXPECT_THROW(conv2d_output_shape(Conv2dParams::make(1, 0), Shape{1, 4, 2, 2}, w.shape()), Error);
  EXPECT_THROW(conv2d_output_shape(Conv2dParams::make(1, 0, 4), x.shape(), w.shape()), Error);
  // The message names the op and the shapes.
  try {
    conv2d_forward(ok, x, w3, b, y);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("conv2d_forward"), std::string::npos) << m;
    EXPECT_NE(m.find("[6, 3, 3, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 4, 8, 8]"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace cuviz
