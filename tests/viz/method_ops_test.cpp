// The method layer's step ops on the CPU against independent hand computations (a direct 2-D
// Gaussian with explicit mirror padding, np.roll's definition, the clip and decay formulas), and
// the Renderer's update with them (SGD, mean |g| normalisation, L2 decay, a step-size schedule,
// blur, clip) against the same update computed by hand from its own gradient.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../nn/reference_net.h"
#include "nn/network.h"
#include "test_util.h"
#include "method_test_util.h"
#include "resize_fixture.h"
#include "viz/method_ops.h"
#include "viz/render.h"

namespace cuviz {
namespace {

// scipy.ndimage.gaussian_filter(mode='reflect') in double, from its definition: the image padded
// by mirroring (d c b a | a b c d), the normalised kernel of radius r, a direct 2-D sum.
double direct_blur(const Tensor& p, int n, int c, int y, int x, double sigma, int r) {
  const int h = p.h(), w = p.w();
  auto mirror = [](int i, int len) { return i < 0 ? -i - 1 : (i >= len ? 2 * len - 1 - i : i); };
  double total = 0, acc = 0;
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx) {
      const double wgt = std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
      total += wgt;
      acc += wgt * p.at(n, c, mirror(y + dy, h), mirror(x + dx, w));
    }
  return acc / total;
}

TEST(MethodOps, BlurIsTheMirrorPaddedGaussianAtTheScheduledSigma) {
  OwnedTensor p(Shape{2, 3, 9, 11}), tmp(p.shape());
  test::fill_uniform(p, 3);
  const OwnedTensor p0 = test::host_copy(p);
  // sigma from 0.5 (update 0) to 2.5 (update 4): update 2 blurs with 1.5, radius ceil(3 * 2.5) = 8.
  const int r = blur_radius(2.5f);
  ASSERT_EQ(r, 8);
  blur_scheduled(0.5f, 2.5f, r, 5, StepIndex(2), p, tmp);
  double worst = 0;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 9; ++y)
        for (int x = 0; x < 11; ++x)
          worst = std::max(worst, std::abs(p.at(n, c, y, x) - direct_blur(p0, n, c, y, x, 1.5, r)));
  EXPECT_LT(worst, 2e-6);
  // The blur moved the image (a wrong sigma or a copy would be caught above; this catches a no-op).
  EXPECT_FALSE(test::all_close(p, p0, 1e-2));
  // sigma 0: exactly the identity.
  OwnedTensor q = test::host_copy(p0);
  blur_scheduled(0.f, 0.f, 0, 5, StepIndex(1), q, tmp);
  EXPECT_TRUE(test::same_bits(q, p0));
}

TEST(MethodOps, RollIsNumpysRollAndRollsBack) {
  OwnedTensor x(Shape{3, 3, 7, 10}), out(x.shape()), back(x.shape());
  test::fill_uniform(x, 5);
  int lo = 0, hi = 0;
  for (uint64_t step : {0ull, 1ull, 17ull}) {
    roll_forward(4, 11, StepIndex(step), x, out);
    for (int n = 0; n < 3; ++n) {
      int dy = 0, dx = 0;
      roll_shift(11, step, n, 4, dy, dx);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 7; ++y)
          for (int xx = 0; xx < 10; ++xx)  // np.roll: element (y, x) moves to (y + dy, x + dx) mod (H, W)
            ASSERT_EQ(out.at(n, c, ((y + dy) % 7 + 7) % 7, ((xx + dx) % 10 + 10) % 10), x.at(n, c, y, xx));
    }
    roll_backward(4, 11, StepIndex(step), out, back);
    EXPECT_TRUE(test::same_bits(back, x));
  }
  for (uint64_t step = 0; step < 300; ++step) {
    int dy = 0, dx = 0;
    roll_shift(11, step, 0, 4, dy, dx);
    lo = std::min({lo, dy, dx});
    hi = std::max({hi, dy, dx});
  }
  EXPECT_EQ(lo, -4);
  EXPECT_EQ(hi, 4);
}

TEST(MethodOps, ClipDecayScheduleAndTheInputMap) {
  OwnedTensor p(Shape{2, 3, 4, 5});
  test::fill_uniform(p, 7, -3, 3);
  const OwnedTensor p0 = test::host_copy(p);
  const float lo[3] = {-1.f, 0.f, -2.f}, hi[3] = {1.f, 0.5f, 2.5f};
  clip_channels(lo, hi, p);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 5; ++x) {
          const float v = p0.at(n, c, y, x);
          ASSERT_EQ(p.at(n, c, y, x), v < lo[c] ? lo[c] : (v > hi[c] ? hi[c] : v));
        }
  // g = (g + 0.2 p) * f, f linear from 1 (update 0) to 0.25 (update 6): update 4 has f = 0.5.
  OwnedTensor g(p.shape());
  test::fill_uniform(g, 9);
  const OwnedTensor g0 = test::host_copy(g);
  decay_and_schedule(0.2f, 0.25f, 7, StepIndex(4), p0, g);
  for (int64_t k = 0; k < g.numel(); ++k)
    ASSERT_NEAR(g.data()[k], (double(g0.data()[k]) + 0.2 * p0.data()[k]) * 0.5, 1e-6);
  // The input map: image[src[c]] = (x[c] - offset[c]) / scale[c]; its adjoint adds dimage[src[c]] / scale[c].
  Preprocess pre;
  pre.src[0] = 2, pre.src[1] = 1, pre.src[2] = 0;
  pre.scale[0] = 255.f, pre.scale[1] = 2.f, pre.scale[2] = 0.5f;
  pre.offset[0] = -104.f, pre.offset[1] = 1.f, pre.offset[2] = 0.25f;
  OwnedTensor image(p.shape()), dx = test::host_copy(g0);
  input_to_image(pre, p0, image);
  input_to_image_backward_add(pre, p0, dx);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 5; ++x) {
          ASSERT_NEAR(image.at(n, pre.src[c], y, x), (double(p0.at(n, c, y, x)) - pre.offset[c]) / pre.scale[c], 1e-6);
          ASSERT_NEAR(dx.at(n, c, y, x), g0.at(n, c, y, x) + double(p0.at(n, pre.src[c], y, x)) / pre.scale[c], 1e-6);
        }
}

// ---- the ops inside the Renderer's update -------------------------------------------------------

RenderOptions deepdream_like() {
  RenderOptions o;
  o.size = 16;
  o.batch = 2;
  o.steps = 3;
  o.seed = 2;
  o.param = ParamKind::input;
  o.source = ImageSource::parse("noise");
  o.transforms = TransformSpec::none();
  o.optimizer = OptimizerKind::sgd;
  o.sgd.lr = 0.7f;
  o.sgd.momentum = 0.f;
  o.ops.grad_norm = GradNorm::mean_abs;
  o.ops.l2_decay = 0.1f;
  o.ops.step_scale_end = 0.5f;
  o.ops.roll = 2;
  return o;
}

// SGD with mean |g| normalisation per image, L2 decay and the step schedule (1, 0.75, 0.5 over 3
// updates): P1 = P0 - lr f_t (g / (mean_i |g| + 1e-8) + decay P0), by hand from the loop's g.
TEST(MethodRender, SgdUpdateWithNormalisationDecayAndScheduleMatchesTheFormula) {
  Network net(test::unit_net(), Device::cpu);
  const RenderOptions o = deepdream_like();
  Renderer r(net, {parse_objective("deepdream(inc/output)")}, o);
  const int64_t per_image = r.params().numel() / 2;
  for (int t = 0; t < 3; ++t) {
    r.gradient(t);
    const OwnedTensor g = test::host_copy(r.param_grad()), p0 = test::host_copy(r.params());
    r.update();
    const double f = 1.0 - 0.25 * t;
    for (int i = 0; i < 2; ++i) {
      double mean_abs = 0;
      for (int64_t k = 0; k < per_image; ++k) mean_abs += std::abs(g.data()[i * per_image + k]) / double(per_image);
      ASSERT_GT(mean_abs, 1e-6) << "no gradient to check";
      for (int64_t k = i * per_image; k < (i + 1) * per_image; ++k) {
        const double want = p0.data()[k] - 0.7 * f * (g.data()[k] / (mean_abs + 1e-8) + 0.1 * p0.data()[k]);
        ASSERT_NEAR(r.params().data()[k], want, 2e-5 * (1 + std::abs(want))) << "update " << t << " element " << k;
      }
    }
  }
  EXPECT_EQ(r.steps_done(), 3);
}

// Clip and blur act after the optimizer, in deepdraw's order: the same loop without them, followed
// by the clip to pre(0)..pre(1) and blur_scheduled (sigma of that update), gives the same bits.
TEST(MethodRender, BlurAndClipFollowTheUpdate) {
  Network net(test::unit_net(), Device::cpu);
  RenderOptions plain = deepdream_like();
  plain.sgd.lr = 40.f;  // large enough that the clip bites
  RenderOptions ops = plain;
  ops.ops.blur_sigma_start = 1.f;
  ops.ops.blur_sigma_end = 0.5f;
  ops.ops.clip = true;
  const Objective obj = parse_objective("deepdream(inc/output)");
  Renderer a(net, {obj}, plain), b(net, {obj}, ops);
  OwnedTensor tmp(a.params().shape());
  // unit_net: x = image - 0.5 in every channel, so the valid range is [-0.5, 0.5].
  const float lo[3] = {-0.5f, -0.5f, -0.5f}, hi[3] = {0.5f, 0.5f, 0.5f};
  int64_t clipped = 0;
  for (int t = 0; t < 3; ++t) {
    a.step();
    b.step();
    for (int64_t k = 0; k < a.params().numel(); ++k) clipped += std::abs(a.params().data()[k]) > 0.5f;
    clip_channels(lo, hi, a.params());
    blur_scheduled(1.f, 0.5f, blur_radius(1.f), 3, StepIndex(t), a.params(), tmp);
    ASSERT_TRUE(test::same_bits(a.params(), b.params())) << "update " << t;
  }
  EXPECT_GT(clipped, 0) << "the clip was never exercised";
}

// A hook is an extension point of the same loop: a before_update hook applying the decay equals the
// built-in l2_decay bit for bit, and after_update hooks see every update's number in order.
TEST(MethodRender, HooksRunInsideTheLoop) {
  Network net(test::unit_net(), Device::cpu);
  const std::vector<Objective> obj = {parse_objective("deepdream(inc/output)")};
  RenderOptions builtin = deepdream_like();
  RenderOptions hooked = builtin;
  hooked.ops.l2_decay = 0.f;
  hooked.ops.step_scale_end = 1.f;
  std::vector<uint64_t> seen;
  hooked.hooks.push_back(StepHook{.before_update = [&](const Tensor& p, const Tensor& g, StepIndex t) {
                                    decay_and_schedule(0.1f, 0.5f, builtin.steps, t, p, g);
                                  },
                                  .after_update = [&](const Tensor&, const Tensor&, StepIndex t) {
                                    seen.push_back(t.get());
                                  },
                                  .needs_host = true});
  const RenderResult a = render(net, obj, builtin), b = render(net, obj, hooked);
  EXPECT_TRUE(test::same_bits(a.images, b.images));
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2}));
}

TEST(MethodRender, MisconfiguredOpsAreClearErrors) {
  Network net(test::unit_net(), Device::cpu);
  const Objective obj = parse_objective("inc/output:2");
  auto message = [&](RenderOptions o) {
    try {
      Renderer r(net, {obj}, o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  RenderOptions o;
  o.size = 16;
  o.ops.clip = true;  // pixel and fourier images are already in [0, 1]
  EXPECT_NE(message(o).find("param input"), std::string::npos) << message(o);
  o = RenderOptions{};
  o.size = 16;
  o.ops.blur_sigma_start = 1.f;  // fourier parameters are a spectrum
  EXPECT_NE(message(o).find("pixel or input"), std::string::npos) << message(o);
  o = RenderOptions{};
  o.size = 16;
  o.ops.step_scale_end = 0.1f;  // Adam ignores the gradient's scale
  EXPECT_NE(message(o).find("sgd"), std::string::npos) << message(o);
  o = RenderOptions{};
  o.size = 16;
  o.ops.roll = 16;
  EXPECT_NE(message(o).find("roll 16"), std::string::npos) << message(o);
}

// deepdraw's crop: the window at crop_offset, its adjoint <crop(x), y> = <x, crop^T(y)> with zeros
// outside, the centre without randomness, and the offsets distributed as deepdraw draws them
// (normal around the centre with sd 0.3 of the slack, clipped to the image).
TEST(MethodOps, CropIsARandomWindowAndItsAdjointPutsItBack) {
  OwnedTensor x(Shape{2, 3, 17, 23}), y(Shape{2, 3, 11, 11}), cx(y.shape()), aty(x.shape());
  test::fill_uniform(x, 1, -1, 1);
  test::fill_uniform(y, 2, -1, 1);
  for (int step = 0; step < 4; ++step) {
    crop_forward(true, 9, StepIndex(uint64_t(step)), x, cx);
    crop_backward(true, 9, StepIndex(uint64_t(step)), y, aty);
    double lhs = 0, rhs = 0;
    for (int64_t k = 0; k < cx.numel(); ++k) lhs += double(cx.data()[k]) * y.data()[k];
    for (int64_t k = 0; k < x.numel(); ++k) rhs += double(x.data()[k]) * aty.data()[k];
    EXPECT_NEAR(lhs, rhs, 1e-9 * (1 + std::abs(lhs)));
    for (int n = 0; n < 2; ++n) {
      const int oy = crop_offset(9, uint64_t(step), n, 0, 6, true), ox = crop_offset(9, uint64_t(step), n, 1, 12, true);
      ASSERT_TRUE(oy >= 0 && oy <= 6 && ox >= 0 && ox <= 12);
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 11; ++i)
          for (int j = 0; j < 11; ++j) ASSERT_EQ(cx.at(n, c, i, j), x.at(n, c, oy + i, ox + j));
      double outside = 0;
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 17; ++i)
          for (int j = 0; j < 23; ++j)
            if (i < oy || i >= oy + 11 || j < ox || j >= ox + 11) outside += std::abs(aty.at(n, c, i, j));
      EXPECT_EQ(outside, 0.0);
    }
  }
  crop_forward(false, 9, StepIndex(0), x, cx);
  EXPECT_EQ(cx.at(1, 2, 0, 0), x.at(1, 2, 3, 6));
  // 4000 draws of a 100 px slack: mean 50 (the clip is symmetric), sd 30 before the clip; P(|z| >
  // 5/3) = 9.6% of the draws land on an edge.
  double sum = 0;
  int edges = 0;
  for (uint64_t s = 0; s < 4000; ++s) {
    const int o = crop_offset(3, s, 0, 0, 100, true);
    sum += o;
    edges += o == 0 || o == 100;
  }
  EXPECT_NEAR(sum / 4000, 50, 1.5);
  EXPECT_NEAR(edges / 4000.0, 0.096, 0.015);
  EXPECT_EQ(crop_offset(3, 0, 0, 0, 0, true), 0);
}

// The Renderer's crop stage: the network sees the step's window of P, and P's gradient is that
// window's gradient in place (what a Renderer of the window's size gives), zero elsewhere.
TEST(MethodRender, CropFeedsTheWindowAndPlacesItsGradient) {
  Network net(test::unit_net(), Device::cpu);
  const Objective obj = parse_objective("deepdream(inc/output)");
  OwnedTensor start(Shape{1, 3, 21, 19});
  test::fill_uniform(start, 4, -0.4, 0.4);
  RenderOptions o = deepdream_like();
  o.ops = StepOps{};
  o.ops.crop = 12;
  o.batch = 1;
  o.height = 21;
  o.width = 19;
  o.source = ImageSource::from_input(start);
  Renderer r(net, {obj}, o);
  EXPECT_EQ(r.network_input().shape(), r.params().shape());  // before any pass
  r.gradient(5);
  EXPECT_EQ(r.network_input().shape(), (Shape{1, 3, 12, 12}));
  OwnedTensor window(Shape{1, 3, 12, 12}), want(start.shape());
  crop_forward(true, o.seed, StepIndex(5), start, window);
  RenderOptions w = deepdream_like();
  w.ops = StepOps{};
  w.size = 12;
  w.batch = 1;
  w.source = ImageSource::from_input(window);
  Renderer rw(net, {obj}, w);
  rw.gradient(0);
  crop_backward(true, o.seed, StepIndex(5), rw.param_grad(), want);
  EXPECT_TRUE(test::same_bits(r.param_grad(), want));
  o.ops.roll = 2;
  EXPECT_THROW(Renderer(net, {obj}, o), Error);
  o.ops.roll = 0;
  o.ops.crop = 20;  // wider than the image
  EXPECT_THROW(Renderer(net, {obj}, o), Error);
}

// ---- adjoints: <A x, y> = <x, A^T y> for the image-space ops -----------------------------------

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t k = 0; k < a.numel(); ++k) s += double(a.data()[k]) * b.data()[k];
  return s;
}

// The dot-product test of each linear image op against its adjoint, on random x and y: the blur
// (reflect boundary; sigma 2.5 has radius 8 > the 5-px side, so taps fold more than once), the
// antialiased resize (shrinking, growing, mixed, same size), the roll and the crop.
TEST(MethodOpsAdjoint, DotProductTestsOfBlurResizeRollAndCrop) {
  OwnedTensor x(Shape{2, 3, 5, 11}), y(x.shape()), tmp(x.shape());
  test::fill_uniform(x, 11, -1, 1);
  test::fill_uniform(y, 12, -1, 1);
  for (const float sigma : {0.44f, 1.f, 2.5f}) {
    OwnedTensor bx = test::host_copy(x), bty = test::host_copy(y);
    blur_scheduled(sigma, sigma, blur_radius(sigma), 1, StepIndex(0), bx, tmp);
    blur_scheduled_adjoint(sigma, sigma, blur_radius(sigma), 1, StepIndex(0), bty, tmp);
    const double lhs = dot(bx, y), rhs = dot(x, bty);
    EXPECT_NEAR(lhs, rhs, 1e-5 * (1 + std::abs(lhs))) << "blur sigma " << sigma;
    // Near the borders the adjoint is not the blur itself (reflection weighs edge samples twice).
    OwnedTensor by = test::host_copy(y);
    blur_scheduled(sigma, sigma, blur_radius(sigma), 1, StepIndex(0), by, tmp);
    EXPECT_FALSE(test::same_bits(by, bty)) << "blur sigma " << sigma;
  }
  for (const auto& [h, w] : std::vector<std::pair<int, int>>{{2, 4}, {13, 29}, {3, 17}, {5, 11}, {1, 1}}) {
    OwnedTensor rx(Shape{2, 3, h, w}), ry(rx.shape()), rty(x.shape());
    test::fill_uniform(ry, 13, -1, 1);
    resize_forward(x, rx);
    resize_adjoint(ry, rty);
    const double lhs = dot(rx, ry), rhs = dot(x, rty);
    EXPECT_NEAR(lhs, rhs, 1e-5 * (1 + std::abs(lhs))) << "resize to " << h << "x" << w;
  }
  OwnedTensor r(x.shape()), rt(x.shape());
  roll_forward(4, 5, StepIndex(2), x, r);
  roll_backward(4, 5, StepIndex(2), y, rt);
  EXPECT_NEAR(dot(r, y), dot(x, rt), 1e-9 * (1 + std::abs(dot(r, y))));
}

// The resize against torch's interpolate(bilinear, align_corners=False, antialias=True) on the
// fixture's input (tests/viz/make_resize_fixture.py), and a constant stays that constant.
TEST(MethodOpsAdjoint, ResizeIsTorchsAntialiasedBilinear) {
  OwnedTensor x(Shape{1, 2, 7, 9});
  for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] = float(std::sin(0.7 * double(k)) + 0.1 * double(k % 5));
  for (const auto& c : fixture::kResizeCases) {
    OwnedTensor out(Shape{1, 2, c.h, c.w});
    resize_forward(x, out);
    for (int64_t k = 0; k < out.numel(); ++k)
      ASSERT_NEAR(out.data()[k], c.values[k], 1e-6) << c.h << "x" << c.w << " element " << k;
  }
  OwnedTensor flat(Shape{1, 3, 9, 10}), small(Shape{1, 3, 4, 3});
  for (int64_t k = 0; k < flat.numel(); ++k) flat.data()[k] = 0.375f;
  resize_forward(flat, small);
  for (int64_t k = 0; k < small.numel(); ++k) EXPECT_NEAR(small.data()[k], 0.375f, 1e-7);
  EXPECT_THROW(resize_forward(x, OwnedTensor(Shape{1, 3, 4, 4})), Error);
}

// deepdraw blurs the crop it just updated: the window blur equals crop -> blur_scheduled -> put
// back, and leaves every pixel outside the window as it was.
TEST(MethodOps, WindowBlurIsTheBlurOfTheStepsCropPutBack) {
  OwnedTensor p(Shape{2, 3, 19, 23}), tmp(p.shape());
  test::fill_uniform(p, 31, -1, 1);
  for (int step = 0; step < 3; ++step) {
    OwnedTensor got = test::host_copy(p);
    blur_scheduled_window(2.f, 0.5f, blur_radius(2.f), 3, StepIndex(uint64_t(step)), 12, 8, got, tmp);
    OwnedTensor win(Shape{2, 3, 12, 12}), wtmp(win.shape()), want = test::host_copy(p);
    crop_forward(true, 8, StepIndex(uint64_t(step)), p, win);
    blur_scheduled(2.f, 0.5f, blur_radius(2.f), 3, StepIndex(uint64_t(step)), win, wtmp);
    for (int n = 0; n < 2; ++n) {
      const int oy = crop_offset(8, uint64_t(step), n, 0, 7, true), ox = crop_offset(8, uint64_t(step), n, 1, 11, true);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 12; ++y)
          for (int x = 0; x < 12; ++x) want.at(n, c, oy + y, ox + x) = win.at(n, c, y, x);
    }
    EXPECT_TRUE(test::same_bits(got, want)) << "step " << step;
    EXPECT_FALSE(test::same_bits(got, p));
  }
}

}  // namespace
}  // namespace cuviz
