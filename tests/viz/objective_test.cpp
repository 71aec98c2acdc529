// Objective expressions: the parser (every form, precedence, errors with their column), printing,
// "logit" resolution, and the evaluator's per-image values against direct sums on the activations.
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/reference_net.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/objective_eval.h"

namespace cuviz {
namespace {

std::string parsed(const std::string& s) { return parse_objective(s).str(); }

TEST(ObjectiveParser, Forms) {
  EXPECT_EQ(parsed("inception_4a/output:97"), "channel(inception_4a/output,97)");
  EXPECT_EQ(parsed("channel(inception_4a/output, 97)"), "channel(inception_4a/output,97)");
  EXPECT_EQ(parsed("neuron(inception_4a/output,97)"), "neuron(inception_4a/output,97)");
  EXPECT_EQ(parsed("neuron(conv2/3x3:pre,5,3,4)"), "neuron(conv2/3x3:pre,5,3,4)");
  EXPECT_EQ(parsed("conv2/3x3:pre:7"), "channel(conv2/3x3:pre,7)");
  EXPECT_EQ(parsed("logit:285"), "logit(logit,285)");
  EXPECT_EQ(parsed("deepdream(inception_4c/output)"), "deepdream(inception_4c/output)");
  EXPECT_EQ(parsed("interpolate(a,1,b,2)"), "interpolate(a,1,b,2)");
  EXPECT_EQ(parsed("l1(0.5)"), "l1(0.5)");
  EXPECT_EQ(parsed("direction(a, 1, -2, 0.5)"), "direction(a,[3 values])");
}

TEST(ObjectiveParser, AlgebraAndPrecedence) {
  EXPECT_EQ(parsed("inception_4c/output:10 - 100*diversity(inception_5a/output)"),
            "channel(inception_4c/output,10) - 100*diversity(inception_5a/output)");
  EXPECT_EQ(parsed("-0.25*tv + -0.05*l1"), "-0.25*tv - 0.05*l1(0.5)");
  EXPECT_EQ(parsed("2*(a:1 + b:2)"), "2*(channel(a,1) + channel(b,2))");
  EXPECT_EQ(parsed("a:1 * b:2"), "channel(a,1) * channel(b,2)");
  EXPECT_EQ(parsed("-a:1"), "-channel(a,1)");
  const Objective o = parse_objective("a:1 + 2*b:2*3");  // scalars fold: 6 * b:2
  EXPECT_EQ(o.str(), "channel(a,1) + 6*channel(b,2)");
}

// The error names the column of the offending character (1-based).
void expect_error_at(const std::string& text, int column, const std::string& fragment) {
  try {
    parse_objective(text);
    FAIL() << "no error for '" << text << "'";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(cat("at column ", column)), std::string::npos) << m;
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
  }
}

TEST(ObjectiveParser, SyntaxErrorsNameTheColumn) {
  expect_error_at("", 1, "empty objective");
  expect_error_at("inception_4a/output:", 21, "expected a channel number");
  expect_error_at("channel(a 3)", 11, "expected ','");
  expect_error_at("a:1 +", 6, "expected an objective");
  expect_error_at("a:1 b:2", 5, "unexpected 'b'");
  expect_error_at("foo(a)", 1, "unknown function 'foo'");
  expect_error_at("inception", 1, "is not an objective");
  expect_error_at("(a:1", 5, "expected ')'");
}

TEST(Objective, LogitResolvesToTheSoftmaxInput) {
  const Graph g = test::small_net();
  EXPECT_EQ(class_logit_layer(g), "fc");
  const Objective o = resolve_objective(parse_objective("logit:3 - 0.1*tv"), g);
  EXPECT_EQ(objective_layers(o), std::vector<std::string>{"fc"});
}

// Values per image from the evaluator against sums written out here, and the per-image list:
// objective i reads image i only.
TEST(ObjectiveEvaluator, ValuesMatchDirectSums) {
  Network net(test::small_net(), Device::cpu);
  const int n = 3;
  const std::vector<Objective> objs = {parse_objective("conv1:2"), parse_objective("neuron(conv1,1,3,4)"),
                                       parse_objective("deepdream(inc/output) + 2")};
  ObjectiveEvaluator eval(objs, n);
  Plan plan = net.plan(Shape{n, 3, 12, 12}, eval.layers(), PlanOptions{.backward = true});
  eval.bind(net, plan, Device::cpu);
  OwnedTensor x(plan.input_shape()), image(plan.input_shape());
  test::fill_uniform(x, 3);
  test::fill_uniform(image, 4, 0, 1);
  net.forward(plan, x);
  eval.compute_values(image);
  const std::vector<double> v = eval.read_objectives();
  const Tensor c1 = net.activation(plan, "conv1"), inc = net.activation(plan, "inc/output");
  double ch = 0;
  for (int y = 0; y < c1.h(); ++y)
    for (int xx = 0; xx < c1.w(); ++xx) ch += c1.at(0, 2, y, xx) / (c1.h() * c1.w());
  double dd = 0;
  for (int c = 0; c < inc.c(); ++c)
    for (int y = 0; y < inc.h(); ++y)
      for (int xx = 0; xx < inc.w(); ++xx) dd += double(inc.at(2, c, y, xx)) * inc.at(2, c, y, xx);
  dd /= double(inc.shape().image_size());
  // Sums of a few hundred floats: 1e-5 relative covers float accumulation order.
  EXPECT_NEAR(v[0], ch, 1e-5 * std::abs(ch) + 1e-6);
  EXPECT_NEAR(v[1], c1.at(1, 1, 4, 3), 1e-6);
  EXPECT_NEAR(v[2], dd + 2, 1e-5 * dd + 1e-6);
}

// Lucid's diversity: with every image identical, each image's term is (N - 1) (cosines of 1).
TEST(ObjectiveEvaluator, DiversityOfIdenticalImagesIsNMinusOne) {
  Network net(test::small_net(), Device::cpu);
  const int n = 4;
  ObjectiveEvaluator eval({diversity("conv1")}, n);
  Plan plan = net.plan(Shape{n, 3, 10, 10}, eval.layers(), PlanOptions{.backward = true});
  eval.bind(net, plan, Device::cpu);
  OwnedTensor one(Shape{1, 3, 10, 10}), x(plan.input_shape());
  test::fill_uniform(one, 9);
  for (int i = 0; i < n; ++i) copy(one, x.batch(i, 1));
  net.forward(plan, x);
  eval.compute_values(x);
  for (double v : eval.read_objectives()) EXPECT_NEAR(v, n - 1, 1e-5);  // float dot products of unit vectors
}

}  // namespace
}  // namespace cuviz
