// Octaves and tiles around the loop: the octave sizes, the resize (identity, a ramp reproduced
// exactly inside, constants kept), the driver against the same loop runs composed by hand (detail
// carried up), one octave = a plain render bit for bit, zero steps = the base; tiles against the
// Attributor on the whole image (one tile; and equal tiles of a pointwise network, where the
// area-weighted tiles are exact), the tiled gradient by central differences on a 3x3 network
// (tile borders and the roll included), the Renderer's tiled gradient stage = the TiledGradient,
// and a non-square octave run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../nn/reference_net.h"
#include "nn/network.h"
#include "test_util.h"
#include "method_test_util.h"
#include "viz/octaves.h"

namespace cuviz {
namespace {

RenderOptions dream_options() {
  RenderOptions o;
  o.param = ParamKind::input;
  o.transforms = TransformSpec::none();
  o.optimizer = OptimizerKind::sgd;
  o.sgd.lr = 0.02f;
  o.sgd.momentum = 0.f;
  o.ops.grad_norm = GradNorm::mean_abs;
  o.ops.roll = 3;
  o.ops.clip = true;
  o.seed = 4;
  o.progress_every = 100;
  return o;
}

TEST(Octaves, SizesFollowScipysZoomRounding) {
  EXPECT_EQ(octave_sizes(224, OctaveSpec{}), (std::vector<int>{224, 160, 114, 81}));
  EXPECT_EQ(octave_sizes(30, OctaveSpec{.octaves = 2, .scale = 2.f}), (std::vector<int>{30, 15}));
  EXPECT_THROW(octave_sizes(20, OctaveSpec{.octaves = 3, .scale = 2.f}), Error);  // 20, 10, 5 < 8
  EXPECT_THROW(octave_sizes(64, OctaveSpec{.octaves = 2, .scale = 1.f}), Error);
}

TEST(Octaves, ResizeKeepsConstantsAndReproducesARampInside) {
  OwnedTensor t(Shape{1, 2, 6, 8});
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 6; ++y)
      for (int x = 0; x < 8; ++x) t.at(0, c, y, x) = c == 0 ? 0.75f : float(2 * x + 3 * y);
  EXPECT_TRUE(test::same_bits(resize_tensor(t, 6, 8), t));
  const OwnedTensor up = resize_tensor(t, 9, 13);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 13; ++x) {
      EXPECT_EQ(up.at(0, 0, y, x), 0.75f);
      // Half-pixel centres: source (x + 0.5) * 8 / 13 - 0.5; away from the clamped border the
      // bilinear value of a linear function is the function there.
      const double sx = (x + 0.5) * 8.0 / 13 - 0.5, sy = (y + 0.5) * 6.0 / 9 - 0.5;
      if (sx >= 0 && sx <= 7 && sy >= 0 && sy <= 5) {
        EXPECT_NEAR(up.at(0, 1, y, x), 2 * sx + 3 * sy, 1e-5) << y << " " << x;
      }
    }
}

TEST(Octaves, OneOctaveIsAPlainRenderAndZeroStepsReturnTheBase) {
  Network net(test::unit_net(), Device::cpu);
  const std::vector<Objective> obj = {parse_objective("deepdream(inc/output)")};
  OwnedTensor base(Shape{1, 3, 20, 20});
  test::fill_uniform(base, 3, -0.4, 0.4);
  RenderOptions o = dream_options();
  o.size = 20;
  o.steps = 6;
  o.source = ImageSource::from_input(base);
  const RenderResult plain = render(net, obj, o);
  const OctaveResult one = render_octaves(net, obj, dream_options(), base, OctaveSpec{.octaves = 1, .steps = 6});
  EXPECT_TRUE(test::same_bits(one.images, plain.images));
  EXPECT_EQ(one.objective.back(), plain.objective);
  const OctaveResult none = render_octaves(net, obj, dream_options(), base, OctaveSpec{.octaves = 3, .steps = 0});
  EXPECT_TRUE(test::same_bits(none.input, base));
  EXPECT_EQ(none.sizes, (std::vector<int>{10, 14, 20}));
}

// Two octaves by hand: the small loop from the resized base, its detail resized up and added to
// the base, the big loop from there. The driver must produce exactly that, and the detail must
// have been carried (the big loop's start differs from the base).
TEST(Octaves, DetailIsCarriedUpFromTheSmallerOctave) {
  Network net(test::unit_net(), Device::cpu);
  const std::vector<Objective> obj = {parse_objective("deepdream(inc/output)")};
  OwnedTensor base(Shape{2, 3, 21, 21});
  test::fill_uniform(base, 8, -0.4, 0.4);
  const OctaveSpec spec{.octaves = 2, .scale = 1.5f, .steps = 5};
  RenderOptions o = dream_options();
  o.batch = 2;
  const OctaveResult got = render_octaves(net, obj, o, base, spec);

  const OwnedTensor small_base = resize_tensor(base, 14, 14);
  o.size = 14;
  o.steps = 5;
  o.source = ImageSource::from_input(small_base);
  Renderer small(net, obj, o);
  render_loop(small);
  OwnedTensor detail(small_base.shape());
  copy(small.params(), detail);
  for (int64_t k = 0; k < detail.numel(); ++k) detail.data()[k] -= small_base.data()[k];
  const OwnedTensor up = resize_tensor(detail, 21, 21);
  OwnedTensor start(base.shape());
  double moved = 0;
  for (int64_t k = 0; k < start.numel(); ++k) {
    start.data()[k] = base.data()[k] + up.data()[k];
    moved += std::abs(up.data()[k]);
  }
  EXPECT_GT(moved, 1e-3 * double(start.numel())) << "no detail to carry";
  o.size = 21;
  o.source = ImageSource::from_input(start);
  Renderer big(net, obj, o);
  const RenderResult want = render_loop(big);
  EXPECT_TRUE(test::same_bits(got.images, want.images));
  EXPECT_EQ(got.objective.back(), want.objective);
  EXPECT_EQ(got.sizes, (std::vector<int>{14, 21}));
}

TEST(Octaves, NeedTheInputParameterization) {
  Network net(test::unit_net(), Device::cpu);
  OwnedTensor base(Shape{1, 3, 20, 20});
  fill(base, 0.f);
  RenderOptions o = dream_options();
  o.param = ParamKind::pixel;
  o.ops.clip = false;
  try {
    render_octaves(net, {parse_objective("deepdream(inc/output)")}, o, base, OctaveSpec{.octaves = 1});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("param input"), std::string::npos) << e.what();
  }
}

// A network of one 1x1 convolution and a ReLU has no spatial context, so deepdream(L) on a tile
// (mean over the tile of a^2), weighted by the tile's share of the area, has the full image's
// gradient there, whatever the roll.
Graph pointwise_net() {
  Graph g;
  g.name = "pointwise";
  g.input = "data";
  g.input_shape = Shape{1, 3, 8, 8};
  LayerDesc conv = test::conv_layer("c", "data", "c", 3, 4, 1, 0, 1);
  test::fill_uniform(conv.weights[0], 6);
  test::fill_uniform(conv.weights[1], 7, -0.1, 0.1);
  g.layers.push_back(std::move(conv));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "r", {"c"}, "c"));
  return g;
}

TEST(Tiles, TiledGradientEqualsTheWholeImagesOnAPointwiseNetwork) {
  Network net(pointwise_net(), Device::cpu);
  const Objective obj = parse_objective("deepdream(c)");
  OwnedTensor x(Shape{1, 3, 24, 24});
  test::fill_uniform(x, 12);
  Attributor whole(net, {obj}, x.shape());
  const OwnedTensor want = whole.gradient(x);
  TiledGradient one(net, obj, 32);  // one tile covers the image: the roll cancels exactly
  const OwnedTensor g1 = one.gradient(x, 1, 0);
  EXPECT_TRUE(test::all_close(g1, want, 1e-7, 1e-6));
  TiledGradient tiles(net, obj, 8);  // nine 8 x 8 tiles, each weighted by its share 1/9 of the area
  for (uint64_t step : {0ull, 5ull}) {
    const OwnedTensor g = tiles.gradient(x, 1, step);
    OwnedTensor scaled(want.shape());
    for (int64_t k = 0; k < want.numel(); ++k) scaled.data()[k] = want.data()[k];
    EXPECT_TRUE(test::all_close(g, scaled, 1e-6, 1e-5)) << "step " << step;
  }
}

TEST(Tiles, TiledObjectiveOfAPointwiseNetworkIsTheWholeImages) {
  Network net(pointwise_net(), Device::cpu);
  const Objective obj = parse_objective("deepdream(c)");
  OwnedTensor x(Shape{1, 3, 20, 27});  // 3 x 4 tiles of 6-7 x 6-7 px
  test::fill_uniform(x, 13);
  Attributor whole(net, {obj}, x.shape());
  const double want = whole.values(x)[0];
  TiledGradient tiles(net, obj, 8);
  EXPECT_NEAR(tiles.value(x), want, 1e-5 * std::abs(want));
  tiles.gradient(x, 2, 3);
  EXPECT_NEAR(tiles.objective(), want, 1e-5 * std::abs(want));  // rolled, but pointwise: the same mean
}

// One 3x3 convolution (padding 1) and a ReLU: a tile's border sees the tile's zero padding, so the
// tiled objective differs from the whole image's; its gradient is checked by central differences
// of sum_t w_t objective(tile t of roll(x)) at the same roll.
TEST(Tiles, TiledGradientMatchesCentralDifferencesOnA3x3Network) {
  Graph g;
  g.name = "conv3";
  g.input = "data";
  g.input_shape = Shape{1, 3, 8, 8};
  LayerDesc conv = test::conv_layer("c", "data", "c", 3, 4, 3, 1, 1);
  test::fill_uniform(conv.weights[0], 21);
  test::fill_uniform(conv.weights[1], 22, -0.1, 0.1);
  g.layers.push_back(std::move(conv));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "r", {"c"}, "c"));
  Network net(std::move(g), Device::cpu);
  const Objective obj = parse_objective("deepdream(c)");
  OwnedTensor x(Shape{1, 3, 13, 17});
  test::fill_uniform(x, 23);
  TiledGradient tiles(net, obj, 8);  // 2 x 3 tiles of 6-7 x 5-6 px
  const uint64_t seed = 5, step = 2;
  const OwnedTensor grad = tiles.gradient(x, seed, step);
  auto f = [&](const Tensor& at) {
    OwnedTensor rolled(at.shape());
    roll_forward(4, seed, StepIndex(step), at, rolled);  // the shift the tiles draw: tile / 2
    return tiles.value(rolled);
  };
  int checked = 0;
  for (int64_t k = 0; k < x.numel(); k += 37) {
    const float eps = 1e-2f, keep = x.data()[k];
    x.data()[k] = keep + eps;
    const double up = f(x);
    x.data()[k] = keep - eps;
    const double down = f(x);
    x.data()[k] = keep;
    const double fd = (up - down) / (2 * eps);
    EXPECT_NEAR(grad.data()[k], fd, 2e-3 + 2e-2 * std::abs(fd)) << "element " << k;
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

TEST(Tiles, TheRenderersTiledStageIsTheTiledGradient) {
  Network net(pointwise_net(), Device::cpu);
  const Objective obj = parse_objective("deepdream(c)");
  OwnedTensor x(Shape{1, 3, 18, 25});
  test::fill_uniform(x, 31);
  RenderOptions o = dream_options();
  o.height = 18;
  o.width = 25;
  o.size = 25;
  o.tile = 10;
  o.steps = 2;
  o.source = ImageSource::from_input(x);
  Renderer r(net, {obj}, o);
  ASSERT_TRUE(o.tiled());
  r.gradient(1);
  TiledGradient tiles(net, obj, 10);
  const OwnedTensor want = tiles.gradient(x, o.seed, 1);
  OwnedTensor got(x.shape());
  copy(r.param_grad(), got);
  for (int64_t k = 0; k < got.numel(); ++k) ASSERT_EQ(got.data()[k], -want.data()[k]) << k;  // the loss is -objective
  EXPECT_EQ(r.last_objectives()[0], tiles.objective());
  EXPECT_NEAR(r.evaluate(0, false)[0], tiles.value(x), 1e-9);
  // Two steps of the loop run through the same stage; the image keeps its shape.
  const RenderResult rr = render_loop(r);
  EXPECT_EQ(rr.images.shape(), (Shape{1, 3, 18, 25}));
}

TEST(Octaves, ANonSquareBaseShrinksEachSide) {
  Network net(pointwise_net(), Device::cpu);
  OwnedTensor base(Shape{1, 3, 30, 44});
  test::fill_uniform(base, 41);
  RenderOptions o = dream_options();
  const OctaveResult r =
      render_octaves(net, {parse_objective("deepdream(c)")}, o, base, OctaveSpec{.octaves = 3, .scale = 1.4f, .steps = 2});
  EXPECT_EQ(r.sizes, (std::vector<int>{15, 21, 30}));
  EXPECT_EQ(r.widths, (std::vector<int>{22, 31, 44}));
  EXPECT_EQ(r.input.shape(), base.shape());
  ASSERT_EQ(r.objective_start.size(), 3u);
  for (size_t k = 0; k < 3; ++k) EXPECT_GT(r.objective[k][0], r.objective_start[k][0]) << "octave " << k;
}

// deepdraw's schedule by hand: octave 0 at 16 px, the result resized to 22 px, octave 1 there with
// its own steps, ops (blur and step-size schedules, crop 16) and learning rate. render_schedule
// must give exactly that, and octave 1's crops must have left pixels outside the centre window
// moved (the gradient reached the whole image over the steps).
TEST(OctaveSchedule, EachOctaveIsTheLoopFromThePreviousResultResized) {
  Network net(test::unit_net(), Device::cpu);
  const std::vector<Objective> obj = {parse_objective("deepdream(inc/output)")};
  OwnedTensor start(Shape{1, 3, 16, 16});
  test::fill_uniform(start, 5, -0.4, 0.4);
  RenderOptions o = dream_options();
  o.ops = StepOps{};
  std::vector<ScheduledOctave> octs(2);
  octs[0].height = octs[0].width = 16;
  octs[0].steps = 4;
  octs[0].objectives = obj;
  octs[0].ops.grad_norm = GradNorm::mean_abs;
  octs[0].ops.blur_sigma_start = 1.f;
  octs[0].ops.blur_sigma_end = 0.5f;
  octs[0].ops.clip = true;
  octs[0].lr = 0.05f;
  octs[1] = octs[0];
  octs[1].height = octs[1].width = 22;
  octs[1].steps = 6;
  octs[1].ops.step_scale_end = 0.5f;
  octs[1].ops.crop = 16;
  octs[1].lr = 0.03f;
  const OctaveResult got = render_schedule(net, o, start, octs);

  RenderOptions a = o;
  a.size = 16;
  a.steps = 4;
  a.ops = octs[0].ops;
  a.sgd.lr = 0.05f;
  a.source = ImageSource::from_input(start);
  Renderer ra(net, obj, a);
  render_loop(ra);
  const OwnedTensor up = resize_tensor(test::host_copy(ra.params()), 22, 22);
  RenderOptions b = o;
  b.size = 22;
  b.steps = 6;
  b.ops = octs[1].ops;
  b.sgd.lr = 0.03f;
  b.source = ImageSource::from_input(up);
  Renderer rb(net, obj, b);
  const RenderResult want = render_loop(rb);
  EXPECT_TRUE(test::same_bits(got.images, want.images));
  EXPECT_TRUE(test::same_bits(got.input, rb.params()));
  EXPECT_EQ(got.objective.back(), want.objective);
  EXPECT_EQ(got.sizes, (std::vector<int>{16, 22}));
  int moved_corner = 0;  // the top-left 3 x 3 lies outside the centre crop (offset 3)
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x) moved_corner += got.input.at(0, c, y, x) != up.at(0, c, y, x);
  EXPECT_GT(moved_corner, 0);
  octs[1].lr = 0.f;
  EXPECT_THROW(render_schedule(net, o, start, octs), Error);
}

}  // namespace
}  // namespace cuviz
