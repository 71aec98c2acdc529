// Objective expressions: the parser (every form, precedence, errors with their column), printing,
// the term registry (every parseable term round-trips, lookups, did-you-mean), "logit"
// resolution, the evaluator's per-image values against direct sums on the activations, and
// l2_to, the term added through the registry alone: its value, its seeds against central
// differences, and an inversion render that brings the distance down.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../nn/reference_net.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/objective_eval.h"
#include "viz/objective_term.h"
#include "viz/render.h"

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
  // Argument counts: the error names the term's usage, at the column where the list went wrong.
  expect_error_at("channel(a,1,2)", 12, "too many arguments for channel: channel(LAYER,C)");
  expect_error_at("channel(a)", 10, "expected ',', found ')' (channel(LAYER,C))");
  expect_error_at("interpolate(a,1,b)", 18, "(interpolate(LAYER1,C1,LAYER2,C2))");
  expect_error_at("deepdream(a, 2)", 12, "too many arguments for deepdream");
  expect_error_at("direction(a)", 12, "expected the direction's values");
  expect_error_at("deepdraem(a)", 1, "unknown function 'deepdraem'; did you mean deepdream?");
  expect_error_at("l2_to(conv1)", 7, "l2_to takes a target tensor");
}

// Nesting and length are bounded (the parser recurses once per level): 10,000 parentheses or
// 120,000 '-' signs used to overflow the stack; now they are one error naming the limit, and a
// long error shows only the start of the expression.
TEST(ObjectiveParser, NestingAndOperatorCountAreLimited) {
  const std::string x = "inception_4a/output:1";
  EXPECT_EQ(parse_objective(std::string(200, '(') + x + std::string(200, ')')).str(), parse_objective(x).str());
  EXPECT_EQ(parse_objective(std::string(200, '-') + x).str(), parse_objective("--" + x).str());  // an even count
  expect_error_at(std::string(10000, '(') + x + std::string(10000, ')'), 257, "nested more than 256 levels deep");
  expect_error_at(std::string(120000, '-') + x, 257, "nested more than 256 levels deep");
  std::string sum = x;
  for (int i = 0; i < 4096; ++i) sum += (i % 2 ? "-" : "+") + x;
  EXPECT_NO_THROW(parse_objective(sum));  // 4096 operators: the limit itself
  try {
    parse_objective(sum + "*2");
    FAIL() << "no error for 4097 operators";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("more than 4096 operators"), std::string::npos) << m;
    EXPECT_LT(m.size(), 200u) << "the message quotes the whole expression";
  }
}

// Every parseable term, written as the printer writes it, parses back to the same text; lookups
// find every name and alias, and no two terms share a name.
TEST(ObjectiveTerms, EveryParseableTermRoundTrips) {
  const std::vector<std::string> printed = {
      "channel(a/b,3)", "neuron(a,1)", "neuron(a,1,2,3)", "deepdream(x:pre)", "diversity(a)",
      "interpolate(a,1,b,2)", "l1(0.5)", "l2(0.25)", "tv", "blur", "channel(a,1) - 0.5*(tv + blur) * deepdream(b)"};
  for (const std::string& p : printed) EXPECT_EQ(parsed(p), p);
  // Printed forms that are descriptions, not input (unchanged from before the registry):
  // directions print their length, class logits the resolved blob.
  EXPECT_EQ(parsed("logit(5)"), "logit(logit,5)");
  EXPECT_EQ(parsed("direction_cossim(a, 1, -2)"), "direction_cossim(a,[2 values])");
  EXPECT_EQ(parsed("class_logit(4)"), "logit(logit,4)");
  EXPECT_EQ(parsed("channel_interpolate(a,1,b,2)"), "interpolate(a,1,b,2)");
  EXPECT_EQ(parsed("total_variation + l2()"), "tv + l2(0)");
  std::vector<std::string> names;
  for (const ObjectiveTerm* t : objective_terms()) {
    ASSERT_TRUE(t->print) << t->name;
    if (!t->parse) continue;
    EXPECT_EQ(find_objective_term(t->name), t) << t->name;
    names.push_back(t->name);
    for (const std::string& alias : t->aliases) {
      EXPECT_EQ(find_objective_term(alias), t) << alias;
      names.push_back(alias);
    }
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "two terms share a name";
  EXPECT_EQ(find_objective_term("foo"), nullptr);
  EXPECT_EQ(objective_term_suggestion("foo"), "");
  EXPECT_EQ(objective_term_suggestion("chanel"), "; did you mean channel?");
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

// ---- l2_to: ||a - target||^2 / ||target||^2 -------------------------------------------------

// The activations of `layer` for x (one image), as an l2_to target.
OwnedTensor capture(const Network& net, const std::string& layer, const Tensor& x) {
  Plan plan = net.plan(x.shape(), {layer});
  net.forward(plan, x);
  const Tensor a = net.activation(plan, layer);
  OwnedTensor out(Shape{1, a.c(), a.h(), a.w()});
  copy(a.batch(0, 1), out);
  return out;
}

TEST(ObjectiveL2To, ValueIsTheRelativeSquaredDistance) {
  Network net(test::small_net(), Device::cpu);
  OwnedTensor guide(Shape{1, 3, 12, 12});
  test::fill_uniform(guide, 21);
  const int n = 2;
  ObjectiveEvaluator eval({l2_to("conv1", capture(net, "conv1", guide))}, n);
  EXPECT_EQ(eval.layers(), std::vector<std::string>{"conv1"});
  Plan plan = net.plan(Shape{n, 3, 12, 12}, eval.layers(), PlanOptions{.backward = true});
  eval.bind(net, plan, Device::cpu);
  OwnedTensor x(plan.input_shape());
  test::fill_uniform(x, 22);
  copy(guide, x.batch(1, 1));  // image 1 is the guide itself: distance 0
  net.forward(plan, x);
  eval.compute_values(x);
  const std::vector<double> v = eval.read_objectives();
  const OwnedTensor target = capture(net, "conv1", guide);
  const Tensor a = net.activation(plan, "conv1");
  double d2 = 0, t2 = 0;
  for (int64_t k = 0; k < target.numel(); ++k) {
    const double d = double(a.image(0)[k]) - target.data()[k];
    d2 += d * d;
    t2 += double(target.data()[k]) * target.data()[k];
  }
  ASSERT_GT(d2 / t2, 0.1);  // a different image is far from the target
  EXPECT_NEAR(v[0], d2 / t2, 1e-5 * d2 / t2);  // float shares summed in double
  EXPECT_EQ(v[1], 0.0);
  EXPECT_EQ(parse_objective("conv1:0").str() + " - " + l2_to("conv1", capture(net, "conv1", guide)).str(),
            (channel("conv1", 0) - l2_to("conv1", capture(net, "conv1", guide))).str());
  EXPECT_EQ(l2_to("conv1", capture(net, "conv1", guide)).str(), cat("l2_to(conv1,[target ", a.c(), "x", a.h(), "x",
                                                                    a.w(), "])"));
}

// The seeds against central differences of the values, moving the activations themselves along
// random directions (the term is quadratic, so the central difference is exact up to rounding).
TEST(ObjectiveL2To, SeedsMatchCentralDifferences) {
  Network net(test::small_net(), Device::cpu);
  OwnedTensor guide(Shape{1, 3, 12, 12});
  test::fill_uniform(guide, 31);
  const int n = 2;
  OwnedTensor other(Shape{1, 3, 12, 12});
  test::fill_uniform(other, 33);
  // Two targets and a channel on one blob, so seeds of one batch and of two kinds add up. The
  // objective is quadratic in the activations: the central difference is exact up to rounding,
  // at any step size.
  const Objective obj = -2.0 * l2_to("inc/output", capture(net, "inc/output", guide)) + 3.0 * channel("inc/output", 1) +
                        0.5 * l2_to("inc/output", capture(net, "inc/output", other));
  ObjectiveEvaluator eval({obj}, n);
  Plan plan = net.plan(Shape{n, 3, 12, 12}, eval.layers(), PlanOptions{.backward = true});
  eval.bind(net, plan, Device::cpu);
  OwnedTensor x(plan.input_shape());
  test::fill_uniform(x, 32);
  net.forward(plan, x);
  const Tensor a = net.activation(plan, "inc/output"), g = net.activation_grad(plan, "inc/output");
  // L = -(1/N) sum_i objective_i, from the current activations.
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
    const float eps = 1.f;
    auto at = [&](float s) {
      for (int64_t k = 0; k < a.shape().numel(); ++k) a.data()[k] = a0.data()[k] + s * dir.data()[k];
      return loss();
    };
    const double numeric = (at(eps) - at(-eps)) / (2 * eps);
    copy(a0, a);
    // L is a few units in float (values rounded to ~1e-7 relative): the difference quotient
    // carries ~1e-6 of rounding, three orders below the derivative checked, and a wrong factor
    // anywhere (the 2, the norm, the weight) is far outside 1e-3.
    ASSERT_GT(std::abs(analytic), 1e-2) << "direction " << trial;
    EXPECT_NEAR(numeric, analytic, 1e-3 * std::abs(analytic)) << "direction " << trial;
  }
}

TEST(ObjectiveL2To, BadTargetsAreClearErrors) {
  Network net(test::small_net(), Device::cpu);
  EXPECT_THROW(l2_to("conv1", OwnedTensor(Shape{2, 4, 3, 3})), Error);  // two images
  OwnedTensor zero(Shape{1, 4, 3, 3});
  fill(zero, 0.f);
  try {
    l2_to("conv1", std::move(zero));
    FAIL() << "no error for a zero target";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target is zero"), std::string::npos) << e.what();
  }
  OwnedTensor guide(Shape{1, 3, 10, 10});
  test::fill_uniform(guide, 5);
  ObjectiveEvaluator eval({l2_to("conv1", capture(net, "conv1", guide))}, 1);
  Plan plan = net.plan(Shape{1, 3, 12, 12}, eval.layers(), PlanOptions{.backward = true});  // another size
  try {
    eval.bind(net, plan, Device::cpu);
    FAIL() << "no error for a target of another size";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("capture the target at the render's image size"), std::string::npos)
        << e.what();
  }
}

// Feature inversion (Mahendran & Vedaldi): rendering -l2_to(conv1, A(guide)) from noise brings
// the relative distance to the guide's activations well down.
TEST(ObjectiveL2To, InversionRenderApproachesTheTarget) {
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  Network net(std::move(g), Device::cpu);
  OwnedTensor guide(Shape{1, 3, 16, 16}), x(Shape{1, 3, 16, 16});
  test::fill_uniform(guide, 51, 0.2, 0.8);
  // The network sees the preprocessed image (x - 0.5); capture the target the same way.
  for (int64_t k = 0; k < guide.numel(); ++k) x.data()[k] = guide.data()[k] - 0.5f;
  RenderOptions o;
  o.size = 16;
  o.steps = 96;
  o.seed = 3;
  o.param = ParamKind::pixel;
  o.transforms = TransformSpec::none();
  o.progress_every = 96;
  const Objective obj = -1.0 * l2_to("conv1", capture(net, "conv1", x));
  Renderer r(net, {obj}, o);
  const double before = -r.evaluate(0, false)[0];
  const RenderResult res = render(net, {obj}, o);
  const double after = -res.objective[0];
  EXPECT_GT(before, 0.02);
  EXPECT_LT(after, 0.1 * before) << "before " << before << ", after " << after;
}

}  // namespace
}  // namespace cuviz
