// The render loop: the gradient of the whole chain (params -> image -> transforms -> network ->
// objective) against finite differences for every objective kind, a known-answer render (a
// stripe-detector channel must produce stripes of its period and orientation), and real
// GoogLeNet renders (objective rises, images not saturated, byte-identical PNG for one seed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "../nn/reference_net.h"
#include "io/image.h"
#include "loaders/model.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/render.h"

namespace cuviz {
namespace {

RenderOptions small_options(int batch, ParamKind kind = ParamKind::fourier) {
  RenderOptions o;
  o.size = 16;
  o.batch = batch;
  o.param = kind;
  o.seed = 7;
  return o;
}

// Mean objective over the images at step t's transforms: -L.
double objective_at(Renderer& r, int t) {
  const std::vector<double> v = r.evaluate(t, true);
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

// Checks dL/dP from Renderer::gradient along three random directions d (entries uniform in
// [-1, 1]) against the central difference (L(P + eps d) - L(P - eps d)) / (2 eps).
// Why directional: one parameter moves L by ~1e-6 of its size, below float's resolution of the
// forward pass; a direction moves every parameter at once and the signal is far above the noise.
// Step sizes: the chain is piecewise smooth (ReLU, max pool, |.| in l1/tv) and curved (LRN,
// sigmoid, Gram normalisation), so the truncation error of the difference falls with eps while
// float noise grows as ~2e-7 |L| / eps (L resolved to ~1e-7 relative per op, a few dozen ops
// deep). Measured on these cases, the best eps lies anywhere in 1e-4..1e-2 (the LRN paths want
// small steps, the Gram normalisation large ones), so the check passes when the difference at ONE
// of eps = 1e-2, 1e-3, 1e-4 (or a Richardson extrapolation of two of them) agrees within 3% of the
// derivative plus that noise. A wrong backward (a dropped term, a factor 2, a sign) disagrees at
// every eps; a 10% error in the backward fails 8 of these 11 cases.
void check_chain_gradient(const Network& net, const std::vector<Objective>& obj, RenderOptions o) {
  Renderer r(net, obj, o);
  test::fill_uniform(r.params(), 11, -0.5, 0.5);
  const int t = 3;  // a step whose transform draws are not the identity
  r.gradient(t);
  const Tensor& g = r.param_grad();
  const int64_t n = g.numel();
  std::vector<float> p0(r.params().data(), r.params().data() + n);
  const double l0 = -objective_at(r, t);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  double largest = 0;
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<double> d(static_cast<size_t>(n));
    double analytic = 0;
    for (int64_t k = 0; k < n; ++k) {
      d[size_t(k)] = u(rng);
      analytic += double(g.data()[k]) * d[size_t(k)];
    }
    auto loss_at = [&](double s) {
      for (int64_t k = 0; k < n; ++k) r.params().data()[k] = float(p0[size_t(k)] + s * d[size_t(k)]);
      return -objective_at(r, t);
    };
    bool agrees = false;
    std::string seen;
    auto central = [&](double eps) { return (loss_at(eps) - loss_at(-eps)) / (2 * eps); };
    for (double eps : {1e-2, 1e-3, 1e-4}) {
      const double fd = central(eps);
      agrees = agrees || std::abs(fd - analytic) <= 3e-2 * std::abs(analytic) + 2e-7 * std::abs(l0) / eps;
      seen += cat(" eps ", eps, ": ", fd, ";");
      // Richardson extrapolation (4 D(eps/2) - D(eps)) / 3 cancels the eps^2 term of the central
      // difference, so the large steps, where float noise is smallest, lose their curvature error
      // too. Its noise is about (4 + 2 + 1) / 3 times that of D(eps/2).
      if (eps > 1e-4) {
        const double rich = (4 * central(eps / 2) - fd) / 3;
        agrees = agrees || std::abs(rich - analytic) <= 3e-2 * std::abs(analytic) + 5e-7 * std::abs(l0) / eps;
        seen += cat(" Richardson ", eps, ": ", rich, ";");
      }
    }
    for (int64_t k = 0; k < n; ++k) r.params().data()[k] = p0[size_t(k)];
    EXPECT_TRUE(agrees) << "direction " << trial << ", objective " << obj[0].str() << ": backward " << analytic
                        << ", differences" << seen;
    largest = std::max(largest, std::abs(analytic) / (2e-5 * std::abs(l0) + 1e-30));
  }
  // At least one direction must carry a derivative well above the smallest noise term (eps 1e-2).
  EXPECT_GT(largest, 3.0) << "objective " << obj[0].str() << ": gradient too small to check";
}

// small_net with inputs in [-0.5, 0.5] (x1, minus 0.5, BGR): under Caffe's x255 its LRN (alpha 0.5)
// would run deep in its curved regime, where a central difference at any float-resolvable eps is
// dominated by curvature rather than by the gradient being checked.
Graph chain_net() {
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  return g;
}

class ChainGradient : public ::testing::Test {
 protected:
  Network net{chain_net(), Device::cpu};
};

TEST_F(ChainGradient, Channel) { check_chain_gradient(net, {parse_objective("inc/output:3")}, small_options(2)); }
TEST_F(ChainGradient, ChannelPixelParam) {
  check_chain_gradient(net, {parse_objective("inc/output:3")}, small_options(2, ParamKind::pixel));
}
TEST_F(ChainGradient, Neuron) {
  check_chain_gradient(net, {parse_objective("neuron(inc/output,3,1,2)")}, small_options(1));
}
TEST_F(ChainGradient, Deepdream) { check_chain_gradient(net, {parse_objective("deepdream(conv1)")}, small_options(2)); }
TEST_F(ChainGradient, ClassLogit) { check_chain_gradient(net, {parse_objective("logit:2")}, small_options(2)); }
TEST_F(ChainGradient, Direction) {
  std::vector<float> v(14);
  for (int i = 0; i < 14; ++i) v[size_t(i)] = float(std::sin(1.0 + i));
  check_chain_gradient(net, {direction("inc/output", v)}, small_options(2));
  check_chain_gradient(net, {direction_cossim("inc/output", v)}, small_options(2));
}
TEST_F(ChainGradient, ChannelMinusDiversity) {
  check_chain_gradient(net, {parse_objective("inc/output:6 - 2*diversity(conv1)")}, small_options(3));
}
TEST_F(ChainGradient, Interpolate) {
  check_chain_gradient(net, {parse_objective("interpolate(conv1,1,inc/output,6)")}, small_options(3));
}
TEST_F(ChainGradient, Product) {
  check_chain_gradient(net, {parse_objective("inc/output:3 * inc/output:6")}, small_options(2));
}
TEST_F(ChainGradient, Regularizers) {
  check_chain_gradient(net, {parse_objective("-0.05*l1 - 0.25*tv - blur + l2(0.3)")}, small_options(2));
}
TEST_F(ChainGradient, PerImageObjectives) {
  check_chain_gradient(net, {parse_objective("conv1:0 - 0.1*tv"), parse_objective("inc/output:5")},
                       small_options(2));
}

// The input parameterization (the network input itself, viz/image_source.h): through the
// transforms in input space, the roll and its roll back, and the image terms' adjoint
// (input_to_image); and with no transforms, where the input's gradient is P's own.
TEST_F(ChainGradient, InputParamThroughTransformsRollAndImageTerms) {
  RenderOptions o = small_options(2, ParamKind::input);
  o.ops.roll = 3;
  check_chain_gradient(net, {parse_objective("inc/output:3 - 0.25*tv - 0.05*l1")}, o);
}
TEST_F(ChainGradient, InputParamDirect) {
  RenderOptions o = small_options(2, ParamKind::input);
  o.transforms = TransformSpec::none();
  check_chain_gradient(net, {parse_objective("inc/output:3 - 0.1*tv + l2(0.3)")}, o);  // (blur holds its blur constant: not a true gradient)
  o.ops.roll = 5;
  check_chain_gradient(net, {parse_objective("inc/output:6")}, o);
}

// A learning rate of 1e38 on the network input itself overflows the input to Inf (and NaN
// downstream) after the first update; on the CPU the loop checks every step, so it stops at the
// step after that update (not at the read-back of step 4) with one error saying that the input
// itself is not finite, before render() returns anything to write. (A layer that overflows is
// named: apps_robust_test NonFinite.*.)
TEST(Render, NonFiniteObjectiveStopsTheLoop) {
  Network net(test::small_net(), Device::cpu);
  RenderOptions o = small_options(1, ParamKind::input);
  o.steps = 8;
  o.progress_every = 4;
  o.adam.lr = 1e38f;
  try {
    render(net, {channel("conv1", 0)}, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the objective of image 0 is "), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(" at step 2 (not finite"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the network's input is not finite (the image diverged"),
              std::string::npos)
        << e.what();
  }
}

// The update after the last step's check can diverge too: with one step, the loop's own check
// passes (the gradient at the start is finite) and the final evaluation catches it; nothing
// non-finite leaves render().
TEST(Render, NonFiniteFinalImageIsAnError) {
  Network net(test::small_net(), Device::cpu);
  RenderOptions o = small_options(1, ParamKind::input);
  o.steps = 1;
  o.adam.lr = 1e38f;
  try {
    render(net, {channel("conv1", 0)}, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(m.find("render: the final objective of image 0 is ") != std::string::npos ||
                m.find("render: the final image 0 holds a non-finite value") != std::string::npos)
        << m;
    EXPECT_NE(m.find("nothing was written"), std::string::npos) << m;
  }
}

TEST(Render, UnknownLayerAndChannelOutOfRangeAreClearErrors) {
  Network net(test::small_net(), Device::cpu);
  try {
    Renderer r(net, {parse_objective("inc/outptu:1")}, small_options(1));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inc/output"), std::string::npos) << e.what();  // suggests the right name
  }
  try {
    Renderer r(net, {parse_objective("inc/output:14")}, small_options(1));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("14 channels (0..13)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Renderer(net, {parse_objective("neuron(conv1,0,40,1)")}, small_options(1)), Error);
  EXPECT_THROW(Renderer(net, {channel("conv1", 0), channel("conv1", 1)}, small_options(3)), Error);
}

// ---- the loop: counter-driven steps and restarts, bit for bit -------------------------------

RenderOptions loop_options() {
  RenderOptions o = small_options(2);
  o.size = 24;
  o.steps = 10;
  o.relu_override_steps = 3;
  o.progress_every = 4;
  o.checkpoints = {5};
  return o;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), size_t(a.numel()) * sizeof(float)) == 0;
}

// render() steps read the step (transform draws, Adam's t) from the Renderer's counter; driving
// the same render stage by stage with the step given by the host, as the loop did before the
// counter, must give the same bits.
TEST_F(ChainGradient, CounterDrivenLoopEqualsHostDrivenSteps) {
  const RenderOptions o = loop_options();
  const std::vector<Objective> obj = {parse_objective("inc/output:3"), parse_objective("conv1:1 - 0.25*tv")};
  const RenderResult got = render(net, obj, o);
  Renderer r(net, obj, o);
  for (int t = 0; t < o.steps; ++t) {
    r.gradient(t, t < o.relu_override_steps);
    r.update();
  }
  EXPECT_EQ(r.steps_done(), o.steps);
  OwnedTensor images(got.images.shape());
  r.images(images);
  EXPECT_TRUE(same_bits(got.images, images));
  EXPECT_EQ(got.objective, r.evaluate(o.steps, false));
}

// A sweep reuses one Renderer: after a first batch, restart must leave nothing of it behind
// (parameters, Adam's moments, the step counter, the objectives' buffers).
TEST_F(ChainGradient, RestartedRendererRendersExactlyLikeANewOne) {
  const RenderOptions o = loop_options();
  const std::vector<Objective> second = {channel("inc/output", 7), channel("inc/output", 9)};
  Renderer r(net, {channel("inc/output", 1), channel("inc/output", 2)}, o);
  render_loop(r);
  r.restart(second);
  EXPECT_EQ(r.steps_done(), 0);
  const RenderResult again = render_loop(r);
  const RenderResult fresh = render(net, second, o);
  EXPECT_TRUE(same_bits(again.images, fresh.images));
  EXPECT_EQ(again.objective, fresh.objective);
  EXPECT_EQ(again.history_steps, fresh.history_steps);
  EXPECT_EQ(again.history, fresh.history);
}

TEST_F(ChainGradient, RestartKeepsThePlanSoNeedsTheSameLayers) {
  Renderer r(net, {channel("inc/output", 1)}, loop_options());
  try {
    r.restart({channel("conv1", 1)});
    FAIL() << "restart on another layer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("inc/output"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r.restart({channel("inc/output", 1), channel("inc/output", 2), channel("inc/output", 3)}), Error);
  EXPECT_THROW(r.restart({channel("inc/output", 99)}), Error);  // out of range, named by bind
  // A good restart after the failed ones renders like a new Renderer.
  r.restart({channel("inc/output", 2)});
  const RenderResult again = render_loop(r), fresh = render(net, {channel("inc/output", 2)}, loop_options());
  EXPECT_TRUE(same_bits(again.images, fresh.images));
  EXPECT_EQ(again.objective, fresh.objective);
}

// The redirected ReLU gradient only changes anything where no gradient passes: with every unit
// of a channel off, the plain gradient is zero and the redirected one is not.
TEST(Render, ReluOverrideGivesAGradientThroughADeadChannel) {
  Graph g;
  g.name = "dead";
  g.input = "data";
  g.input_shape = Shape{1, 3, 8, 8};
  LayerDesc conv = test::conv_layer("c", "data", "c", 3, 1, 3, 1, 3);
  fill(conv.weights[1], -1e4f);  // a bias that keeps the unit off for any image in [0, 1]
  g.layers.push_back(std::move(conv));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "r", {"c"}, "c"));
  Network net(std::move(g), Device::cpu);
  RenderOptions o = small_options(1);
  Renderer r(net, {channel("c", 0)}, o);
  auto grad_norm = [&] {
    double s = 0;
    for (int64_t k = 0; k < r.param_grad().numel(); ++k) s += std::abs(r.param_grad().data()[k]);
    return s;
  };
  r.gradient(0, false);
  EXPECT_EQ(grad_norm(), 0.0);
  r.gradient(0, true);
  EXPECT_GT(grad_norm(), 0.0);
}

// ---- known answer: a stripe detector renders stripes -------------------------------------------

// The dominant frequency of the grey image (DFT peak without DC), as (fx, fy) in cycles/pixel.
std::pair<double, double> dominant_frequency(const Tensor& img) {
  const int h = img.h(), w = img.w();
  std::vector<double> grey(size_t(h) * w);
  double mean = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double v = (img.at(0, 0, y, x) + img.at(0, 1, y, x) + img.at(0, 2, y, x)) / 3;
      grey[size_t(y) * w + x] = v;
      mean += v / (h * w);
    }
  double best = -1, bfx = 0, bfy = 0;
  for (int ky = 0; ky < h; ++ky)
    for (int kx = 0; kx <= w / 2; ++kx) {
      if (ky == 0 && kx == 0) continue;
      double re = 0, im = 0;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const double a = -2 * M_PI * (double(kx) * x / w + double(ky) * y / h);
          re += (grey[size_t(y) * w + x] - mean) * std::cos(a);
          im += (grey[size_t(y) * w + x] - mean) * std::sin(a);
        }
      if (re * re + im * im > best) {
        best = re * re + im * im;
        bfx = double(kx) / w;
        bfy = double(ky <= h / 2 ? ky : ky - h) / h;
      }
    }
  return {bfx, bfy};
}

// One conv channel whose 9x9 filter is cos(2 pi (x cos th + y sin th) / P) on every colour, no
// bias, then a ReLU. The image that maximises its mean response is a grating of period P along
// th, so the rendered image's DFT must peak at |f| = 1/P, angle th (mod 180 degrees).
TEST(Render, StripeDetectorRendersStripesOfItsPeriodAndOrientation) {
  const double period = 8, theta = 30 * M_PI / 180;
  const int k = 9;
  Graph g;
  g.name = "stripes";
  g.input = "data";
  g.input_shape = Shape{1, 3, 64, 64};
  g.meta.value_scale = 1.f;
  g.meta.bgr = false;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  LayerDesc conv = test::conv_layer("gabor", "data", "gabor", 3, 1, k, 0, 1);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < k; ++y)
      for (int x = 0; x < k; ++x)
        conv.weights[0].at(0, c, y, x) =
            float(std::cos(2 * M_PI * ((x - k / 2) * std::cos(theta) + (y - k / 2) * std::sin(theta)) / period) / k);
  fill(conv.weights[1], 0.f);
  g.layers.push_back(std::move(conv));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "relu", {"gabor"}, "gabor"));
  Network net(std::move(g), Device::cpu);
  RenderOptions o;
  o.size = 64;
  o.steps = 96;
  o.seed = 3;
  o.progress_every = 96;
  o.transforms = TransformSpec::none();  // jitter and rotation would blur the answer, not change it
  const RenderResult r = render(net, {channel("gabor", 0)}, o);
  const auto [fx, fy] = dominant_frequency(r.images);
  const double f = std::hypot(fx, fy);
  double angle = std::atan2(fy, fx);
  if (angle < 0) angle += M_PI;  // a grating and its mirror frequency are one orientation
  // One DFT bin is 1/64 cycle/px; the peak of a 1/8 grating lands within a bin of it. The angle of
  // the nearest bin to (cos 30, sin 30) * 8 = (6.93, 4) is within atan(0.5/8) = 3.6 degrees, 6 allowed.
  EXPECT_NEAR(f, 1 / period, 1.0 / 64) << "fx " << fx << " fy " << fy;
  EXPECT_NEAR(angle * 180 / M_PI, theta * 180 / M_PI, 6.0) << "fx " << fx << " fy " << fy;
  EXPECT_GT(r.objective[0], 0.0);
}

// ---- real GoogLeNet (CPU, small) -----------------------------------------------------------------

std::string model_path() {
  const char* p = std::getenv("CUVIZ_MODEL_PATH");
  return p ? p : "";
}

class GoogLeNetRender : public ::testing::Test {
 protected:
  void SetUp() override {
    if (model_path().empty()) GTEST_SKIP() << "CUVIZ_MODEL_PATH not set (point it at the weights directory)";
    try {
      net_ = std::make_unique<Network>(load_model("googlenet"), Device::cpu);
    } catch (const Error& e) {
      GTEST_SKIP() << "googlenet not found: " << e.what();
    }
  }
  RenderOptions options() const {
    RenderOptions o;
    o.size = 64;
    o.steps = 24;
    o.progress_every = 1;
    o.seed = 1;
    return o;
  }
  std::unique_ptr<Network> net_;
};

TEST_F(GoogLeNetRender, ObjectiveRisesAndImagesAreNotSaturated) {
  const RenderResult r = render(*net_, {channel("inception_4a/output", 97)}, options());
  ASSERT_EQ(r.history.size(), 24u);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += r.history[size_t(i)][0] / 5, last += r.history[r.history.size() - 1 - size_t(i)][0] / 5;
  EXPECT_GT(last, first) << "mean of the first 5 steps " << first << ", of the last 5 " << last;
  const Image img = tensor_to_image(r.images, 0);
  int64_t extreme = 0;
  for (uint8_t v : img.pixels) extreme += (v == 0 || v == 255);
  // Lucid's images at this stage sit well inside the sigmoid's range; 5% at the limits means a
  // wrong spectrum scale (seen: every pixel saturated).
  EXPECT_LT(double(extreme) / double(img.pixels.size()), 0.05);
}

TEST_F(GoogLeNetRender, SameSeedGivesTheSamePngBytes) {
  const std::string dir = ::testing::TempDir();
  std::string bytes[2];
  for (int k = 0; k < 2; ++k) {
    RenderOptions o = options();
    o.steps = 8;
    const RenderResult r = render(*net_, {parse_objective("inception_4c/output:10 - 0.25*tv")}, o);
    const std::string path = cat(dir, "/render_seed_", k, ".png");
    write_png(path, tensor_to_image(r.images, 0));
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    bytes[k] = s.str();
  }
  ASSERT_FALSE(bytes[0].empty());
  EXPECT_EQ(bytes[0], bytes[1]);
}

}  // namespace
}  // namespace cuviz
