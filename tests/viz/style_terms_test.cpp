// The style-transfer terms (viz/term_style.h): content(L, P) is the MSE to P, style(L, T) is the
// Gram op's loss (kernels/gram.h) on the layer, written out on the activations; their seeds,
// combined with the algebra and with tv2 as style transfer combines them, against central
// differences; printing, the parser's refusal, bad targets.
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/reference_net.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/objective_eval.h"
#include "viz/term_style.h"

namespace cuviz {
namespace {

OwnedTensor capture(const Network& net, const std::string& layer, const Tensor& x) {
  Plan plan = net.plan(x.shape(), {layer});
  net.forward(plan, x);
  const Tensor a = net.activation(plan, layer);
  OwnedTensor out(Shape{1, a.c(), a.h(), a.w()});
  copy(a.batch(0, 1), out);
  return out;
}

TEST(StyleTerms, ValuesAreTheMseAndTheGramLoss) {
  Network net(test::small_net(), Device::cpu);
  OwnedTensor content(Shape{1, 3, 12, 12}), style(content.shape());
  test::fill_uniform(content, 1);
  test::fill_uniform(style, 2);
  const OwnedTensor p = capture(net, "conv1", content);
  const OwnedTensor fs = capture(net, "inc/output", style);
  const int n = 2;
  const Objective obj = content_loss("conv1", capture(net, "conv1", content)) + 0.0 * constant(0);
  ObjectiveEvaluator eval({content_loss("conv1", capture(net, "conv1", content)),
                           style_loss("inc/output", gram_matrix(fs, GramNorm::chw))},
                          n);
  Plan plan = net.plan(Shape{n, 3, 12, 12}, eval.layers(), PlanOptions{.backward = true});
  eval.bind(net, plan, Device::cpu);
  OwnedTensor x(plan.input_shape());
  test::fill_uniform(x, 3);
  copy(style, x.batch(1, 1));  // image 1 is the style image: style loss 0
  net.forward(plan, x);
  eval.compute_values(x);
  const std::vector<double> v = eval.read_objectives();
  // Image 0: content = mean (a - p)^2 written out.
  const Tensor a = net.activation(plan, "conv1");
  double mse = 0;
  for (int64_t k = 0; k < p.numel(); ++k) {
    const double d = double(a.image(0)[k]) - p.data()[k];
    mse += d * d;
  }
  mse /= double(p.numel());
  ASSERT_GT(mse, 1e-3);
  EXPECT_NEAR(v[0], mse, 1e-5 * mse);
  // Image 1: its own Gram matrix (float GEMMs of the same features: equal up to rounding).
  EXPECT_NEAR(v[1], 0.0, 1e-9);
  EXPECT_EQ(content_loss("conv1", capture(net, "conv1", content)).str(),
            cat("content(conv1,[target ", p.c(), "x", p.h(), "x", p.w(), "])"));
  EXPECT_EQ(style_loss("inc/output", gram_matrix(fs, GramNorm::gatys), GramNorm::gatys).str(),
            cat("style(inc/output,[gram ", fs.c(), "x", fs.c(), "],gatys)"));
}

// Style transfer's loss, -(a content + b style_1 + c style_2 + d tv2), maximised: the seeds
// (through the render loop's evaluator) against central differences of the values along random
// directions in the activations, with the image term's gradient checked separately.
TEST(StyleTerms, SeedsMatchCentralDifferences) {
  Network net(test::small_net(), Device::cpu);
  OwnedTensor content(Shape{1, 3, 12, 12}), style(content.shape());
  test::fill_uniform(content, 11);
  test::fill_uniform(style, 12);
  const int n = 2;
  for (GramNorm norm : {GramNorm::chw, GramNorm::gatys}) {
    SCOPED_TRACE(gram_norm_name(norm));
    const OwnedTensor fs = capture(net, "inc/output", style);
    // Two style terms on one blob (different weights and targets) and content on the same blob.
    OwnedTensor t2 = gram_matrix(fs, norm);
    for (int64_t k = 0; k < t2.numel(); ++k) t2.data()[k] *= 0.5f;
    const double ws = norm == GramNorm::chw ? 100.0 : 1e4;
    const Objective obj = -(5.0 * content_loss("inc/output", capture(net, "inc/output", content)) +
                            ws * style_loss("inc/output", gram_matrix(fs, norm), norm) +
                            0.5 * ws * style_loss("inc/output", std::move(t2), norm));
    ObjectiveEvaluator eval({obj}, n);
    Plan plan = net.plan(Shape{n, 3, 12, 12}, eval.layers(), PlanOptions{.backward = true});
    eval.bind(net, plan, Device::cpu);
    OwnedTensor x(plan.input_shape());
    test::fill_uniform(x, 13);
    net.forward(plan, x);
    const Tensor a = net.activation(plan, "inc/output"), g = net.activation_grad(plan, "inc/output");
    auto loss = [&] {
      eval.compute_values(x);
      double l = 0;
      for (double v : eval.read_objectives()) l -= v / n;
      return l;
    };
    loss();
    fill(g, 0.f);
    eval.seed();
    OwnedTensor grad(a.shape()), a0(a.shape()), dir(a.shape());
    copy(g, grad);
    copy(a, a0);
    for (int trial = 0; trial < 3; ++trial) {
      test::fill_uniform(dir, 40 + trial);
      double analytic = 0;
      for (int64_t k = 0; k < a.shape().numel(); ++k) analytic += double(grad.data()[k]) * dir.data()[k];
      // The style loss is quartic in the activations: the central difference's error is
      // eps^2 / 6 times the third derivative (at eps = 1e-2 it is already 2e-3 of the derivative
      // under gatys's scale); eps = 3e-3 keeps it and the float rounding of L below 1e-3.
      const float eps = 3e-3f;
      auto at = [&](float s) {
        for (int64_t k = 0; k < a.shape().numel(); ++k) a.data()[k] = a0.data()[k] + s * dir.data()[k];
        return loss();
      };
      const double numeric = (at(eps) - at(-eps)) / (2 * eps);
      copy(a0, a);
      ASSERT_GT(std::abs(analytic), 1e-3) << "direction " << trial;
      EXPECT_NEAR(numeric, analytic, 2e-3 * std::abs(analytic)) << "direction " << trial;
    }
  }
}

TEST(StyleTerms, ParserRefusesAndBadTargetsAreClearErrors) {
  try {
    parse_objective("style(conv1)");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Gram matrix, which an expression cannot write"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_objective("content(conv1)"), Error);
  EXPECT_THROW(style_loss("conv1", OwnedTensor(Shape{1, 4, 3, 1})), Error);  // not C x C
  EXPECT_THROW(content_loss("conv1", OwnedTensor(Shape{2, 4, 3, 3})), Error);
  Network net(test::small_net(), Device::cpu);
  OwnedTensor guide(Shape{1, 3, 12, 12});
  test::fill_uniform(guide, 5);
  // A Gram matrix of another layer's channel count.
  const OwnedTensor f1 = capture(net, "conv1", guide);
  ObjectiveEvaluator eval({style_loss("inc/output", gram_matrix(f1, GramNorm::chw))}, 1);
  Plan plan = net.plan(Shape{1, 3, 12, 12}, eval.layers(), PlanOptions{.backward = true});
  try {
    eval.bind(net, plan, Device::cpu);
    FAIL() << "no error for a Gram matrix of another layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("compute it at the same layer"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cuviz
