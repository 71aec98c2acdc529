// The guided dream (google/deepdream's objective_guide; viz/term_guide.h). The term's value and
// seeds against the notebook's formula computed here on a small random case (x = the features as
// C x n, y = the guide's as C x m, A = x^T y, gradient y[:, A.argmax(1)], scaled by 1/n); and on
// real GoogLeNet (CPU, small), a dream with a guide differs from one without and raises the guided
// objective in every octave.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>

#include "../nn/reference_net.h"
#include "io/image.h"
#include "loaders/model.h"
#include "loaders/preprocess.h"
#include "method_test_util.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/dream.h"
#include "viz/invert.h"
#include "viz/objective_eval.h"

namespace cuviz {
namespace {

// data {1, 3, 6, 5} -> 3x3 conv (pad 1) to 4 channels: features {4, 6, 5}, n = 30 positions.
Graph conv_net() {
  Graph g;
  g.name = "conv_net";
  g.input = "data";
  g.input_shape = Shape{1, 3, 6, 5};
  g.meta.input_size = 6;
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  g.layers.push_back(test::conv_layer("conv", "data", "conv", 3, 4, 3, 1, 9));
  return g;
}

TEST(GuideTerm, ValueAndSeedsAreTheNotebooksObjectiveGuide) {
  const Network net(conv_net(), Device::cpu);
  const int c = 4, m = 6, n_img = 2;
  OwnedTensor y(Shape{1, c, 2, 3});  // m = 6 guide vectors
  test::fill_uniform(y, 41, -1.0, 1.0);
  const double weight = 2.5;
  ObjectiveEvaluator eval({weight * guide("conv", test::host_copy(y))}, n_img);
  EXPECT_EQ(eval.layers(), std::vector<std::string>{"conv"});
  Plan plan = net.plan(Shape{n_img, 3, 6, 5}, eval.layers(), PlanOptions{.backward = true});
  eval.bind(net, plan, Device::cpu);
  OwnedTensor x(plan.input_shape());
  test::fill_uniform(x, 42, -0.5, 0.5);
  net.forward(plan, x);
  eval.compute_values(x);
  const std::vector<double> v = eval.read_objectives();
  const Tensor a = net.activation(plan, "conv"), g = net.activation_grad(plan, "conv");
  fill(g, 0.f);
  eval.seed();
  const int n = 6 * 5;
  int checked = 0;
  for (int img = 0; img < n_img; ++img) {
    double value = 0;
    for (int i = 0; i < n; ++i) {
      // A[i, j] = <x_i, y_j>; the notebook's argmax (first maximum).
      int best = 0;
      double best_dot = 0, second = -1e300;
      for (int j = 0; j < m; ++j) {
        double d = 0;
        for (int ch = 0; ch < c; ++ch) d += double(a.image(img)[ch * n + i]) * y.data()[ch * m + j];
        if (j == 0 || d > best_dot) {
          if (j > 0) second = best_dot;
          best_dot = d;
          best = j;
        } else {
          second = std::max(second, d);
        }
      }
      value += best_dot / n;
      if (best_dot - second < 1e-4) continue;  // a near tie: float and double may pick differently
      ++checked;
      // L = -(1/N) sum_img weight * value_img: dL/dx_i = -(weight / N) y_{j*} / n.
      for (int ch = 0; ch < c; ++ch)
        EXPECT_NEAR(g.image(img)[ch * n + i], -weight / n_img * y.data()[ch * m + best] / n, 1e-6)
            << "image " << img << " position " << i << " channel " << ch;
    }
    EXPECT_NEAR(v[size_t(img)], weight * value, 1e-5 * std::abs(weight * value) + 1e-6);
  }
  EXPECT_GT(checked, 50);
  EXPECT_EQ(guide("conv", test::host_copy(y)).str(), "guide(conv,[6 vectors of 4])");
}

TEST(GuideTerm, ChannelMismatchAndParsingAreErrors) {
  const Network net(conv_net(), Device::cpu);
  OwnedTensor y(Shape{1, 5, 2, 2});
  test::fill_uniform(y, 1, -1.0, 1.0);
  ObjectiveEvaluator eval({guide("conv", test::host_copy(y))}, 1);
  Plan plan = net.plan(Shape{1, 3, 6, 5}, eval.layers(), PlanOptions{.backward = true});
  try {
    eval.bind(net, plan, Device::cpu);
    FAIL() << "no error for a 5-channel guide on a 4-channel layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the guide has 5 channels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_objective("guide(conv)"), Error);
}

// GoogLeNet, CPU: a 96 x 80 chelsea, 2 octaves of 4 steps at inception_3b/output, guided by a
// 64 px coffee (a few seconds on one core).
TEST(GuidedDream, DiffersFromTheUnguidedDreamAndRaisesTheGuidedObjective) {
  if (!std::getenv("CUVIZ_MODEL_PATH")) GTEST_SKIP() << "CUVIZ_MODEL_PATH not set (point it at the weights directory)";
  const std::string dir = std::string(CUVIZ_SHARED_DIR) + "/images/";
  std::unique_ptr<Network> net;
  Image photo, coffee;
  try {
    net = std::make_unique<Network>(load_model("googlenet"), Device::cpu);
    photo = resize_bilinear(read_image(dir + "chelsea.png"), 96, 80);
    coffee = resize_bilinear(read_image(dir + "coffee.png"), 64, 64);
  } catch (const Error& e) {
    GTEST_SKIP() << "googlenet or the photos not found: " << e.what();
  }
  const std::string guide_path = cat(::testing::TempDir(), "/guide_coffee64.png");
  write_png(guide_path, coffee);
  DreamSettings s;
  s.layer = "inception_3b/output";
  s.octaves = 2;
  s.iters = 4;
  const OwnedTensor image = image_to_tensor(photo);
  const DreamResult plain = dream(*net, s, image);
  s.guide = guide_path;
  EXPECT_EQ(s.objective_text(), "guide(inception_3b/output,[" + guide_path + "])");
  const DreamResult guided = dream(*net, s, image);
  ASSERT_EQ(guided.octaves.size(), 2u);
  for (const DreamOctave& o : guided.octaves)
    EXPECT_GT(o.objective_end, o.objective_start) << o.width << "x" << o.height;
  double diff = 0;
  for (int64_t k = 0; k < image.numel(); ++k) diff = std::max(diff, double(std::abs(guided.image.data()[k] - plain.image.data()[k])));
  EXPECT_GT(diff, 0.05);
  // The guided objective of the guided dream beats that of the plain dream, measured the same way.
  const OwnedTensor gx = input_from_image(image_to_tensor(read_image(guide_path)), net->graph().meta);
  const Objective obj = guide(s.layer, layer_features(*net, s.layer, gx));
  auto guided_value = [&](const Tensor& img) {
    const OwnedTensor x = input_from_image(img, net->graph().meta);
    ObjectiveEvaluator eval({obj}, 1);
    Plan plan = net->plan(x.shape(), eval.layers(), PlanOptions{.backward = true});
    eval.bind(*net, plan, Device::cpu);
    net->forward(plan, x);
    eval.compute_values(img);
    return eval.read_objectives()[0];
  };
  EXPECT_GT(guided_value(guided.image), guided_value(plain.image));
  EXPECT_GT(guided_value(guided.image), guided_value(image));
}

}  // namespace
}  // namespace cuviz
