// Octaves and tiles around the loop: the octave sizes, the resize (identity, a ramp reproduced
// exactly inside, constants kept), the driver against the same loop runs composed by hand (detail
// carried up), one octave = a plain render bit for bit, zero steps = the base; tiles against the
// Attributor on the whole image (one tile; and equal tiles of a pointwise network, where tiling is
// exact up to each tile's mean).
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
// (mean over the tile of a^2) has the full image's gradient times (image area / tile area) there,
// whatever the roll.
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

}  // namespace
}  // namespace cuviz
