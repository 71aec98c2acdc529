// Class models and fooling images (viz/class_model.h). Known answer: for a linear classifier
// z = W x + b the class model of class k maximises w_k . x - lambda ||x||^2, whose optimum is
// x* = w_k / (2 lambda); classviz's configuration of the loop (param input from zeros, SGD with the
// L2 decay) must land there. Class names resolve by index or label name with near matches, and the
// scorer agrees with the softmax computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/reference_net.h"
#include "io/labels.h"
#include "method_test_util.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/class_model.h"

namespace cuviz {
namespace {

// data {1, 3, 8, 8} -> linear to 4 classes -> softmax; network input = the image minus 0.5.
Graph linear_classifier() {
  Graph g;
  g.name = "linear_classifier";
  g.input = "data";
  g.input_shape = Shape{1, 3, 8, 8};
  g.meta.input_size = 8;
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  g.layers.push_back(test::linear_layer("fc", "data", "fc", 3 * 8 * 8, 4, 7));
  g.layers.push_back(test::simple_layer(LayerKind::softmax, "prob", {"fc"}, "prob"));
  return g;
}

TEST(ClassModel, LinearClassifiersClassModelIsItsWeightImageOverTwoLambda) {
  const Network net(linear_classifier(), Device::cpu);
  const Tensor& w = net.graph().layers[0].weights[0];  // {4, 192, 1, 1}
  for (int k : {0, 2}) {
    ClassModelSettings s;
    s.class_name = std::to_string(k);
    s.size = 8;
    s.steps = 60;
    s.lambda = 0.5;  // x* = w_k
    s.lr = 0.5;      // x <- x + 0.5 (w_k - x): the error halves each step
    s.momentum = 0;
    s.clip = false;  // |w| <= sqrt(3/192): inside the valid range anyway
    Renderer r(net, {class_logit("logit", k)}, class_model_options(s, Device::cpu));
    render_loop(r);
    const OwnedTensor x = test::host_copy(r.params());
    double max_err = 0, max_w = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double want = double(w.data()[k * 192 + i]) / (2 * s.lambda);
      max_err = std::max(max_err, std::abs(double(x.data()[i]) - want));
      max_w = std::max(max_w, std::abs(want));
    }
    EXPECT_LT(max_err, 1e-6 * max_w) << "class " << k;
    EXPECT_GT(max_w, 0.05);
  }
}

TEST(ClassModel, WithClipTheClassModelStaysInTheValidRange) {
  const Network net(linear_classifier(), Device::cpu);
  ClassModelSettings s;
  s.class_name = "1";
  s.size = 8;
  s.steps = 20;
  s.lambda = 0.001;  // optimum far outside [-0.5, 0.5]: the clip decides
  s.lr = 10;
  s.momentum = 0;
  Renderer r(net, {class_logit("logit", 1)}, class_model_options(s, Device::cpu));
  render_loop(r);
  const OwnedTensor x = test::host_copy(r.params());
  const Tensor& w = net.graph().layers[0].weights[0];
  for (int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_LE(std::abs(x.data()[i]), 0.5f + 1e-6f);
    if (std::abs(w.data()[192 + i]) > 0.01f) EXPECT_EQ(x.data()[i], w.data()[192 + i] > 0 ? 0.5f : -0.5f) << i;
  }
}

TEST(ClassModel, ScorerIsClassifysSoftmaxOnTheQuantisedImage) {
  const Network net(linear_classifier(), Device::cpu);
  ImageScorer scorer(net);
  EXPECT_EQ(scorer.num_classes(), 4);
  Image img;
  img.width = img.height = 8;
  img.pixels.resize(8 * 8 * 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t((i * 37) % 256);
  const ClassScore s = scorer.score(img, 3);
  // By hand: the network input is byte/255 - 0.5 in BGR order, z = W x + b.
  const Tensor& w = net.graph().layers[0].weights[0];
  const Tensor& b = net.graph().layers[0].weights[1];
  std::vector<double> z(4);
  for (int k = 0; k < 4; ++k) {
    z[size_t(k)] = b.data()[k];
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 8; ++y)
        for (int xx = 0; xx < 8; ++xx)
          z[size_t(k)] += double(w.data()[k * 192 + (c * 8 + y) * 8 + xx]) * (img.at(xx, y, 2 - c) / 255.0 - 0.5);
  }
  double sum = 0;
  for (double v : z) sum += std::exp(v);
  EXPECT_NEAR(s.logit, z[3], 1e-5);
  EXPECT_NEAR(s.p, std::exp(z[3]) / sum, 1e-6);
  EXPECT_EQ(s.top, int(std::max_element(z.begin(), z.end()) - z.begin()));
}

std::vector<Label> some_labels() {
  return parse_labels(
      "n01440764 tench, Tinca tinca\n"
      "n01443537 goldfish, Carassius auratus\n"
      "n02012849 crane\n"
      "n02007558 flamingo\n"
      "n03126707 crane\n"
      "n02124075 Egyptian cat\n"
      "n02099601 golden retriever\n"
      "n02099712 Labrador retriever\n",
      "test labels");
}

std::string error_of(const std::string& text) {
  try {
    resolve_class(text, some_labels(), 8);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ClassModel, ClassesResolveByIndexOrName) {
  const auto labels = some_labels();
  EXPECT_EQ(resolve_class("1", labels, 8), 1);
  EXPECT_EQ(resolve_class("0", labels, 8), 0);
  EXPECT_EQ(resolve_class("flamingo", labels, 8), 3);
  EXPECT_EQ(resolve_class("Goldfish", labels, 8), 1);           // any case
  EXPECT_EQ(resolve_class("carassius auratus", labels, 8), 1);  // any of the names
  EXPECT_EQ(resolve_class(" egyptian cat ", labels, 8), 5);
  EXPECT_EQ(resolve_class("7", {}, 8), 7);  // no labels: indices still work
}

TEST(ClassModel, UnknownOrAmbiguousClassesAreOneClearError) {
  EXPECT_EQ(error_of("flamingoo"), "unknown class 'flamingoo'; did you mean flamingo?");
  EXPECT_EQ(error_of("gldfish"), "unknown class 'gldfish'; did you mean goldfish?");
  EXPECT_EQ(error_of("retriever"),
            "unknown class 'retriever'; names containing it: golden retriever, labrador retriever");
  EXPECT_NE(error_of("zebra").find("unknown class 'zebra'; give an index (0 to 7)"), std::string::npos)
      << error_of("zebra");
  EXPECT_EQ(error_of("crane"), "class 'crane' names 2 classes: 2 (crane), 4 (crane); give the index");
  EXPECT_EQ(error_of("8"), "class 8 is out of range (the model has 8 classes: 0 to 7)");
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
}

// deepdraw's table as the loop's schedule: sizes 224 -> round(224 * 1.2) = 269 (scipy's zoom),
// crops of 224, the blur and step-size ends moved so that linear_schedule's value at step i is
// deepdraw's start + (end - start) i / n, and the learning rate scaled by crop^2 / side^2 so that
// the whole image's mean |g| (zero outside the crop) divides as deepdraw's crop mean does.
TEST(ClassModel, DeepdrawScheduleIsTheNotebooksTableInTheLoopsTerms) {
  ClassModelSettings s;
  s.class_name = "1";
  s.method = "deepdraw";
  const std::vector<ScheduledOctave> o = deepdraw_schedule(224, 1, s);
  ASSERT_EQ(o.size(), deepdraw_octaves().size());
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0].height, 224);
  EXPECT_EQ(o[1].height, 269);
  EXPECT_EQ(o[1].width, 269);
  EXPECT_EQ(o[0].steps, 190);
  EXPECT_EQ(o[1].steps, 450);
  for (size_t k = 0; k < o.size(); ++k) {
    const DeepdrawOctave& d = deepdraw_octaves()[k];
    EXPECT_EQ(o[k].ops.crop, 224);
    EXPECT_TRUE(o[k].ops.clip);
    EXPECT_EQ(o[k].ops.grad_norm, GradNorm::mean_abs);
    const double side = o[k].height, ratio = 224.0 * 224.0 / (side * side);
    for (int i : {0, 1, d.iters / 2, d.iters - 1}) {
      const double sigma = d.sigma_start + (d.sigma_end - d.sigma_start) * i / d.iters;
      const double step = d.step_start + (d.step_end - d.step_start) * i / d.iters;
      EXPECT_NEAR(linear_schedule(o[k].ops.blur_sigma_start, o[k].ops.blur_sigma_end, i, o[k].steps), sigma, 1e-5);
      EXPECT_NEAR(o[k].lr * linear_schedule(1.f, o[k].ops.step_scale_end, i, o[k].steps), step * ratio,
                  1e-5 * step);
    }
  }
  EXPECT_NEAR(o[0].lr, 11.0, 1e-6);
  s.size = 300;  // the first octave at 300, the second at 360
  EXPECT_EQ(deepdraw_schedule(224, 1, s)[1].height, 360);
  s.size = 200;
  EXPECT_THROW(deepdraw_schedule(224, 1, s), Error);
}

}  // namespace
}  // namespace cuviz
