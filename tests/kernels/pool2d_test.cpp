// Pooling: output sizes of the real networks, hand-derived semantics (padding, divisors, ties),
// fast path == reference on random configurations and strided views, double-precision gradient
// checks, and rejected configurations.
#include "kernels/pool2d.h"

#include <algorithm>
#include <random>
#include <vector>

#include "tests/kernels/op_test_util.h"

namespace cuviz {

namespace {

Shape out_of(const Pool2dParams& p, int h, int w) { return pool2d_output_shape(p, Shape{1, 1, h, w}); }

// Elements of x that are within `margin` of the maximum of a window whose top two values are
// closer than `margin`: there the max is not differentiable at the finite-difference scale.
std::vector<bool> near_ties(const Pool2dParams& p0, const TensorD& x, double margin) {
  Pool2dParams p = p0;
  if (p.global) {
    p = Pool2dParams{};
    p.kernel_h = x.h();
    p.kernel_w = x.w();
  }
  const Shape ys = pool2d_output_shape(p0, x.shape());
  std::vector<bool> risky(x.numel(), false);
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c)
      for (int i = 0; i < ys.h; ++i)
        for (int j = 0; j < ys.w; ++j) {
          std::vector<std::pair<double, int64_t>> taps;
          for (int a = 0; a < p.kernel_h; ++a)
            for (int b = 0; b < p.kernel_w; ++b) {
              const int h = i * p.stride_h - p.pad_top + a * p.dilation_h;
              const int w = j * p.stride_w - p.pad_left + b * p.dilation_w;
              if (h < 0 || h >= x.h() || w < 0 || w >= x.w()) continue;
              taps.push_back({x.at(n, c, h, w), ((int64_t(n) * x.c() + c) * x.h() + h) * x.w() + w});
            }
          std::sort(taps.rbegin(), taps.rend());
          if (taps.size() < 2 || taps[0].first - taps[1].first >= margin) continue;
          for (auto& [v, k] : taps)
            if (v >= taps[0].first - margin) risky[k] = true;
        }
  return risky;
}

// The GoogLeNet/SqueezeNet max pool: 3x3, stride 2, Caffe's ceil rounding.
Pool2dParams caffe_max_3x3_s2() { return Pool2dParams::make(PoolMode::max, 3, 2, 0, true); }

}  // namespace

TEST(Pool2d, OutputSizesOfBvlcGoogLeNet) {
  // deploy.prototxt: pool1..pool4 are MAX 3x3/2 (Caffe rounds up); inception pools MAX 3x3/1 pad 1;
  // pool5 AVE 7x7/1.
  const Pool2dParams p = caffe_max_3x3_s2();
  EXPECT_EQ(out_of(p, 112, 112), (Shape{1, 1, 56, 56}));
  EXPECT_EQ(out_of(p, 56, 56), (Shape{1, 1, 28, 28}));
  EXPECT_EQ(out_of(p, 28, 28), (Shape{1, 1, 14, 14}));
  EXPECT_EQ(out_of(p, 14, 14), (Shape{1, 1, 7, 7}));
  EXPECT_EQ(out_of(Pool2dParams::make(PoolMode::max, 3, 1, 1, true), 28, 28), (Shape{1, 1, 28, 28}));
  EXPECT_EQ(out_of(Pool2dParams::make(PoolMode::average, 7, 1, 0, true), 7, 7), (Shape{1, 1, 1, 1}));
  // Floor rounding would lose the last row/column: this is why the ceil mode matters.
  EXPECT_EQ(out_of(Pool2dParams::make(PoolMode::max, 3, 2), 112, 112), (Shape{1, 1, 55, 55}));
}

TEST(Pool2d, OutputSizesOfSqueezeNet11) {
  // squeezenet_v1.1/deploy.prototxt: 227 input, conv1 3x3/2 -> 113; pool1/pool3/pool5 MAX 3x3/2
  // (Caffe ceil): 113 -> 56 -> (fires) 56 -> 28 -> (fires) 28 -> 14; pool10 global AVE -> 1.
  const Pool2dParams p = caffe_max_3x3_s2();
  EXPECT_EQ(out_of(p, 113, 113), (Shape{1, 1, 56, 56}));
  EXPECT_EQ(out_of(p, 56, 56), (Shape{1, 1, 28, 28}));
  EXPECT_EQ(out_of(p, 28, 28), (Shape{1, 1, 14, 14}));
  Pool2dParams g;
  g.mode = PoolMode::average;
  g.global = true;
  EXPECT_EQ(pool2d_output_shape(g, Shape{2, 1000, 14, 14}), (Shape{2, 1000, 1, 1}));
}

TEST(Pool2d, CeilModeDropsAWindowStartingInTheRightPadding) {
  // 5 + 2*1 pad, kernel 2, stride 2: ceil((7 - 2) / 2) + 1 = 4 windows, but the 4th would start
  // at 6 - 1 = 5 >= 5, i.e. in the right padding, so 3 remain (PyTorch gives 3 as well).
  EXPECT_EQ(out_of(Pool2dParams::make(PoolMode::max, 2, 2, 1, true), 5, 5), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(out_of(Pool2dParams::make(PoolMode::max, 2, 2, 1, false), 5, 5), (Shape{1, 1, 3, 3}));
  // Without the rule ceil and floor differ: 6 input, kernel 3, stride 2 -> floor 2, ceil 3.
  EXPECT_EQ(out_of(Pool2dParams::make(PoolMode::max, 3, 2, 0, true), 6, 6), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(out_of(Pool2dParams::make(PoolMode::max, 3, 2, 0, false), 6, 6), (Shape{1, 1, 2, 2}));
}

TEST(Pool2d, AverageDivisorsByHand) {
  // All-ones 4x4 input, 3x3 stride 2 pad 1, ceil mode -> 3x3 windows starting at -1, 1, 3.
  // Along one axis the windows cover real taps {0,1}, {1,2,3}, {3} and padded-extent taps
  // (padded input is [-1, 5)) {-1,0,1}, {1,2,3}, {3,4}: the last window is clipped at 5.
  OwnedTensor x(Shape{1, 1, 4, 4}), y(Shape{1, 1, 3, 3});
  fill(x, 1.f);
  Pool2dParams p = Pool2dParams::make(PoolMode::average, 3, 2, 1, true);
  const float real[3] = {2, 3, 1}, padded[3] = {3, 3, 2};
  for (bool include : {true, false}) {
    p.count_include_pad = include;
    pool2d_forward(p, x, y);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        const float want = include ? real[i] * real[j] / (padded[i] * padded[j]) : 1.f;
        // One division of small integers: exact up to the last bit.
        EXPECT_NEAR(y.at(0, 0, i, j), want, 1e-7f) << "include_pad " << include << " at " << i << "," << j;
      }
  }
}

TEST(Pool2d, MaxPadsAreMinusInfinity) {
  OwnedTensor x(Shape{1, 1, 2, 2}), y(Shape{1, 1, 2, 2});
  fill(x, -3.f);
  pool2d_forward(Pool2dParams::make(PoolMode::max, 3, 1, 1), x, y);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) EXPECT_EQ(y.at(0, 0, i, j), -3.f);
}

TEST(Pool2d, MaxTiesRouteToTheFirstElementInScanOrder) {
  // 3x3 of equal values, 2x2 windows, stride 1: window (i, j) routes to its top-left (i, j).
  OwnedTensor x(Shape{1, 1, 3, 3}), y(Shape{1, 1, 2, 2}), dy(y.shape()), dx(x.shape()), rdx(x.shape());
  fill(x, 0.5f);
  const Pool2dParams p = Pool2dParams::make(PoolMode::max, 2, 1);
  pool2d_forward(p, x, y);
  test::fill_uniform(dy, 7, 1.0, 2.0);
  pool2d_backward_data(p, x, y, dy, dx);
  pool2d_backward_data_reference<float>(p, x, y, dy, rdx);
  for (int h = 0; h < 3; ++h)
    for (int w = 0; w < 3; ++w) {
      const float want = h < 2 && w < 2 ? dy.at(0, 0, h, w) : 0.f;
      EXPECT_EQ(dx.at(0, 0, h, w), want) << h << "," << w;
      EXPECT_EQ(rdx.at(0, 0, h, w), want) << h << "," << w;
    }
}

TEST(Pool2d, FastMatchesReferenceOnRandomConfigsAndStridedViews) {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int tested = 0;
  for (int trial = 0; trial < 400 && tested < 120; ++trial) {
    Pool2dParams p;
    p.mode = pick(0, 1) ? PoolMode::max : PoolMode::average;
    p.kernel_h = pick(1, 4), p.kernel_w = pick(1, 4);
    p.stride_h = pick(1, 3), p.stride_w = pick(1, 3);
    p.pad_top = pick(0, 2), p.pad_left = pick(0, 2), p.pad_bottom = pick(0, 2), p.pad_right = pick(0, 2);
    p.dilation_h = pick(1, 2), p.dilation_w = pick(1, 2);
    p.ceil_mode = pick(0, 1);
    p.count_include_pad = pick(0, 1);
    p.global = pick(0, 9) == 0;
    const Shape xs{pick(1, 3), pick(1, 4), pick(1, 13), pick(1, 13)};
    Shape ys;
    try {
      ys = pool2d_output_shape(p, xs);
    } catch (const Error&) {
      continue;  // impossible configuration (e.g. a window entirely in padding): covered below
    }
    ++tested;
    SCOPED_TRACE(cat("trial ", trial, " x ", xs.str(), " y ", ys.str(), " mode ", int(p.mode), " k ", p.kernel_h, "x",
                     p.kernel_w, " s ", p.stride_h, "x", p.stride_w, " pads ", p.pad_top, p.pad_left, p.pad_bottom,
                     p.pad_right, " d ", p.dilation_h, "x", p.dilation_w, " ceil ", p.ceil_mode, " incl ",
                     p.count_include_pad, " global ", p.global));
    test::SliceView x(xs), y(ys), dy(ys), dx(xs);
    OwnedTensor ry(ys), rdx(xs);
    test::fill_uniform(x.view, 100 + trial);
    test::fill_uniform(dy.view, 200 + trial);
    pool2d_forward(p, x.view, y.view);
    pool2d_forward_reference<float>(p, x.view, ry);
    // Both paths do the same float operations in the same order (max, or sum then one
    // division), so they agree exactly.
    EXPECT_TRUE(test::all_close(y.view, ry, 0.0));
    pool2d_backward_data(p, x.view, y.view, dy.view, dx.view);
    pool2d_backward_data_reference<float>(p, x.view, ry, dy.view, rdx);
    EXPECT_TRUE(test::all_close(dx.view, rdx, 0.0));
    EXPECT_TRUE(y.guard_intact() && dx.guard_intact());
  }
  EXPECT_GE(tested, 100);
}

TEST(Pool2d, LargeTensorsTakeTheParallelPathAndMatchTheReference) {
  // 2 x 16 x 57 x 57 is above the OpenMP threshold of the fast path.
  for (PoolMode mode : {PoolMode::max, PoolMode::average}) {
    const Pool2dParams p = Pool2dParams::make(mode, 3, 2, 1, true);
    test::SliceView x(Shape{2, 16, 57, 57}), y(pool2d_output_shape(p, x.view.shape())), dy(y.view.shape()),
        dx(x.view.shape());
    OwnedTensor ry(y.view.shape()), rdx(x.view.shape());
    test::fill_uniform(x.view, 21);
    test::fill_uniform(dy.view, 22);
    pool2d_forward(p, x.view, y.view);
    pool2d_forward_reference<float>(p, x.view, ry);
    pool2d_backward_data(p, x.view, y.view, dy.view, dx.view);
    pool2d_backward_data_reference<float>(p, x.view, ry, dy.view, rdx);
    // Same float operations in the same order as the reference: exact.
    EXPECT_TRUE(test::all_close(y.view, ry, 0.0));
    EXPECT_TRUE(test::all_close(dx.view, rdx, 0.0));
    EXPECT_TRUE(y.guard_intact() && dx.guard_intact());
  }
}

TEST(Pool2d, GradientCheckInDouble) {
  std::vector<Pool2dParams> configs;
  configs.push_back(caffe_max_3x3_s2());
  configs.push_back(Pool2dParams::make(PoolMode::max, 3, 1, 1));
  Pool2dParams odd;  // asymmetric pads, dilation, unequal strides, ceil mode
  odd.kernel_h = 2, odd.kernel_w = 3, odd.stride_h = 2, odd.stride_w = 1;
  odd.pad_top = 1, odd.pad_left = 0, odd.pad_bottom = 0, odd.pad_right = 2;
  odd.dilation_h = 2, odd.dilation_w = 1, odd.ceil_mode = true;
  configs.push_back(odd);
  Pool2dParams global;
  global.global = true;
  configs.push_back(global);
  for (size_t i = 0, n = configs.size(); i < n; ++i) {
    Pool2dParams a = configs[i];
    a.mode = PoolMode::average;
    configs.push_back(a);
    a.count_include_pad = false;
    configs.push_back(a);
  }
  for (size_t ci = 0; ci < configs.size(); ++ci) {
    const Pool2dParams& p = configs[ci];
    SCOPED_TRACE(cat("config ", ci));
    OwnedTensorD x(Shape{2, 2, 7, 6});
    const Shape ys = pool2d_output_shape(p, x.shape());
    OwnedTensorD y(ys), w(ys), dx(x.shape());
    test::fill_uniform(x, 300 + ci);
    test::fill_uniform(w, 400 + ci);
    pool2d_forward_reference<double>(p, x, y);
    pool2d_backward_data_reference<double>(p, x, y, w, dx);
    auto loss = [&] {
      pool2d_forward_reference<double>(p, x, y);
      return test::weighted_sum(y, w);
    };
    // The max is piecewise linear: skip points within 1e-4 (>> eps) of a tie. Away from ties
    // the loss is linear in x, so central differences are exact up to double rounding (~1e-10).
    const std::vector<bool> risky = p.mode == PoolMode::max ? near_ties(p, x, 1e-4) : std::vector<bool>(x.numel());
    EXPECT_TRUE(test::gradient_check(x, loss, dx, 0, 1e-6, 1e-8, 1e-6, [&](int64_t k) { return bool(risky[k]); }));
  }
}

TEST(Pool2d, FloatBackwardAgreesWithDoubleGradient) {
  // The float fast path against the double reference on GoogLeNet's pool shape (odd sizes, n = 2).
  const Pool2dParams p = caffe_max_3x3_s2();
  OwnedTensor x(Shape{2, 5, 15, 15}), y(pool2d_output_shape(p, x.shape())), dy(y.shape()), dx(x.shape());
  test::fill_uniform(x, 11);
  test::fill_uniform(dy, 12);
  pool2d_forward(p, x, y);
  pool2d_backward_data(p, x, y, dy, dx);
  OwnedTensorD xd = test::to_double(x), yd(y.shape()), dyd = test::to_double(dy), dxd(x.shape());
  pool2d_forward_reference<double>(p, xd, yd);
  pool2d_backward_data_reference<double>(p, xd, yd, dyd, dxd);
  // Max only selects and adds at most 4 overlapping float dy's: within float rounding of |dy| <= 1.
  EXPECT_TRUE(test::all_close(dx, dxd, 1e-6));
}

TEST(Pool2d, RejectsBadInputs) {
  OwnedTensor x(Shape{1, 2, 5, 5}), y(Shape{1, 2, 2, 2}), wrong(Shape{1, 2, 3, 2});
  const Pool2dParams good = Pool2dParams::make(PoolMode::max, 3, 2);
  pool2d_forward(good, x, y);  // the baseline is valid
  test::expect_error([&] { pool2d_forward(good, x, wrong); }, "pool2d_forward");
  test::expect_error([&] { pool2d_backward_data(good, x, y, wrong, x); }, "pool2d_backward_data");
  test::expect_error([&] { pool2d_backward_data(good, x, y, y, wrong); }, "pool2d_backward_data");
  OwnedTensor empty(Shape{1, 0, 5, 5});
  test::expect_error([&] { pool2d_forward(good, empty, y); }, "pool2d");
  auto bad = [&](auto edit) {
    Pool2dParams p = good;
    edit(p);
    test::expect_error([&] { pool2d_output_shape(p, x.shape()); }, "pool2d");
    test::expect_error([&] { pool2d_forward(p, x, y); }, "pool2d");
  };
  bad([](Pool2dParams& p) { p.pad_left = -1; });
  bad([](Pool2dParams& p) { p.stride_h = 0; });
  bad([](Pool2dParams& p) { p.kernel_w = 0; });
  bad([](Pool2dParams& p) { p.dilation_h = 0; });
  bad([](Pool2dParams& p) { p.kernel_h = 6; });                        // larger than 5 + 0 pads
  bad([](Pool2dParams& p) { p.kernel_h = 3, p.dilation_h = 3; });      // extent 7 > 5
  bad([](Pool2dParams& p) { p.kernel_w = 2, p.pad_left = 2; });        // first window all padding
  bad([](Pool2dParams& p) { p.kernel_w = 2, p.stride_w = 1, p.pad_right = 3; });  // last window all padding
}

}  // namespace cuviz
