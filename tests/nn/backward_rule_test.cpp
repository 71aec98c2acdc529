// Backward rules (nn/backward_rule.h) and gradient taps (PlanOptions::grad_taps) on the CPU:
// a rule doubling a conv's backward doubles d(input) and switches off per backward; guided
// backpropagation and Lucid's redirect on a three-unit net against answers worked by hand; a rule
// that reads a conv's input gets it in a compact plan; taps hold the gradient before in-place
// ReLUs and concat slices overwrite it, in compact and full plans, and on the real GoogLeNet
// equal the double-precision reference backward; every misuse is one clear error.
#include <cstring>
#include <filesystem>

#include "io/npy.h"
#include "loaders/caffe_loader.h"
#include "nn/network.h"
#include "backward_rule_util.h"
#include "reference_net.h"

namespace cuviz {

namespace {

using test::error_of;

using test::bitwise_equal;
using test::DoubleConvRule;
using test::InputEchoRule;

bool nonzero(const Tensor& t) {
  for (int i = 0; i < t.n(); ++i)
    for (int64_t k = 0; k < t.shape().image_size(); ++k)
      if (t.image(i)[k] != 0.f) return true;
  return false;
}

// The conv's plain backward, declaring that it reads the conv's output (the pre-activation an
// in-place ReLU would overwrite).
class ReadsConvOutputRule final : public BackwardRule {
 public:
  explicit ReadsConvOutputRule(std::string layer) : BackwardRule("reads_output", RuleTarget::named({std::move(layer)})) {}
  RuleNeeds needs(const LayerDesc&) const override { return RuleNeeds{.output = true}; }
  void backward(const BackwardArgs& a) const override {
    CUVIZ_CHECK(a.y.defined(), "reads_output: the plan did not keep the output");
    conv2d_backward_data(a.layer.conv, a.dy, a.layer.weights[0], a.dx);
  }
};

OwnedTensor input_gradient(const Network& net, Plan& p, const Tensor& x, const char* out, uint64_t seed) {
  net.forward(p, x);
  test::fill_uniform(net.activation_grad(p, out), seed);
  OwnedTensor dx(x.shape());
  net.backward_to_input(p, dx);
  return dx;
}

}  // namespace

// dx of the three-unit net for input x, through `configure`d plans of both stashes (the rule
// reads the ReLU's output in a full plan and its bit mask in a compact one); both must agree.
std::vector<float> three_unit_dx(const std::vector<float>& x, const std::function<void(PlanOptions&, Plan*)>& configure) {
  Network net(test::three_unit_net(), Device::cpu);
  std::vector<float> result;
  for (Stash stash : {Stash::full, Stash::compact}) {
    PlanOptions o{.backward = true, .stash = stash};
    configure(o, nullptr);
    Plan p = net.plan(Shape{1, 3, 1, 1}, {"out"}, o);
    configure(o, &p);
    OwnedTensor xt(Shape{1, 3, 1, 1}), dx(xt.shape());
    std::copy(x.begin(), x.end(), xt.data());
    net.forward(p, xt);
    fill(net.activation_grad(p, "out"), 1.f);
    net.backward_to_input(p, dx);
    std::vector<float> d(dx.data(), dx.data() + 3);
    if (result.empty()) result = d;
    EXPECT_EQ(d, result) << "compact and full plans differ";
  }
  return result;
}

TEST(BackwardRule, GuidedReluMatchesTheHandComputedAnswer) {
  // x = [1, 2, 3]: fc1 output [3, -1, 4], ReLU output [3, 0, 4], d(ReLU output) = [2, 1, -1].
  //   plain:  d(fc1 output) = [2, 0, -1] (unit 1 off)            -> dx = W1^T [2, 0, -1] = [1, 2, -1]
  //   guided: d(fc1 output) = [2, 0, 0]  (unit 2 on, but dy < 0)  -> dx = W1^T [2, 0, 0]  = [2, 2, 0]
  const std::vector<float> x{1, 2, 3};
  EXPECT_EQ(three_unit_dx(x, [](PlanOptions&, Plan*) {}), (std::vector<float>{1, 2, -1}));
  EXPECT_EQ(three_unit_dx(x, [](PlanOptions& o, Plan*) { o.backward_rules = {guided_relu_rule()}; }),
            (std::vector<float>{2, 2, 0}));
}

TEST(BackwardRule, DeconvnetReluMatchesTheHandComputedAnswer) {
  // x = [1, 2, 3]: ReLU output [3, 0, 4], d(ReLU output) = [2, 1, -1]. The deconvnet rectifies dy
  // whatever the forward did: d(fc1 output) = max(dy, 0) = [2, 1, 0] (unit 1 was off, it passes
  // anyway; unit 2 was on, dy < 0 stops) -> dx = W1^T [2, 1, 0] = [2, 3, -1] (W1 rows [1, 1, 0],
  // [0, 1, -1], [1, 0, 1]). At x = [-1, -1, -1] (every unit off) the plain gradient is zero but
  // the deconvnet still passes max(dy, 0) = [2, 1, 0].
  for (const std::vector<float>& x : {std::vector<float>{1, 2, 3}, std::vector<float>{-1, -1, -1}})
    EXPECT_EQ(three_unit_dx(x, [](PlanOptions& o, Plan*) { o.backward_rules = {deconvnet_relu_rule()}; }),
              (std::vector<float>{2, 3, -1}));
}

TEST(BackwardRule, RedirectedReluIsTodaysOverrideAndMatchesTheHandComputedAnswer) {
  // x = [-1, -1, -1]: fc1 output [-2, 0, -2], every unit off, so the plain gradient is zero and
  // Lucid's redirect passes dy where it is <= 0: d(fc1 output) = [0, 0, -1], dx = W1^T that =
  // [-1, 0, -1]. set_relu_gradient_override switches the built-in rule "relu_redirect".
  const std::vector<float> x{-1, -1, -1};
  EXPECT_EQ(three_unit_dx(x, [](PlanOptions&, Plan*) {}), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(three_unit_dx(x,
                          [](PlanOptions&, Plan* p) {
                            if (p) p->set_relu_gradient_override(true);
                          }),
            (std::vector<float>{-1, 0, -1}));
  EXPECT_EQ(three_unit_dx(x,
                          [](PlanOptions&, Plan* p) {
                            if (p) p->enable_backward_rule("relu_redirect", true);
                          }),
            (std::vector<float>{-1, 0, -1}));
}

// On small_net (fused and in-place ReLUs, a fan-out of four branches, an add): the wrapper and
// the rule by name are one switch, the compact plan (masks) and the full one (y) agree bitwise,
// and the redirect gets a gradient past a ReLU that is off everywhere.
TEST(BackwardRule, OverrideWrapperSwitchesTheRedirectRuleOnSmallNet) {
  // conv1's bias at -100 switches relu1 off everywhere: the plain gradient stops there (dx = 0)
  // and only the redirect lets one through.
  Graph g = test::small_net();
  for (auto& l : g.layers)
    if (l.name == "conv1") fill(l.weights[1], -100.f);
  const Network net(std::move(g), Device::cpu);
  const Shape in{2, 3, 10, 10};
  OwnedTensor x(in);
  test::fill_uniform(x, 3);
  std::vector<OwnedTensor> results;
  for (Stash stash : {Stash::full, Stash::compact}) {
    Plan a = net.plan(in, {"prob"}, PlanOptions{.backward = true, .stash = stash});
    Plan b = net.plan(in, {"prob"}, PlanOptions{.backward = true, .stash = stash});
    EXPECT_FALSE(a.relu_gradient_override());
    const OwnedTensor plain = input_gradient(net, a, x, "prob", 4);
    EXPECT_FALSE(nonzero(plain)) << "relu1 should stop the plain gradient";
    a.set_relu_gradient_override(true);
    EXPECT_TRUE(a.backward_rule_enabled("relu_redirect"));
    b.enable_backward_rule("relu_redirect", true);
    EXPECT_TRUE(b.relu_gradient_override());
    OwnedTensor da = input_gradient(net, a, x, "prob", 4);
    const OwnedTensor db = input_gradient(net, b, x, "prob", 4);
    EXPECT_TRUE(nonzero(da));
    EXPECT_TRUE(bitwise_equal(da, db)) << "stash " << int(stash);
    results.push_back(std::move(da));
  }
  EXPECT_TRUE(bitwise_equal(results[0], results[1])) << "full and compact plans differ";
}

TEST(BackwardRule, DoublingAConvBackwardDoublesTheInputGradientAndSwitchesOff) {
  const Network net(test::small_net(), Device::cpu);
  const Shape in{2, 3, 10, 10};
  OwnedTensor x(in);
  test::fill_uniform(x, 5);
  for (Stash stash : {Stash::full, Stash::compact}) {
    Plan plain = net.plan(in, {"prob"}, PlanOptions{.backward = true, .stash = stash});
    Plan ruled = net.plan(in, {"prob"},
                          PlanOptions{.backward = true,
                                      .stash = stash,
                                      .backward_rules = {std::make_shared<DoubleConvRule>(std::vector<std::string>{"conv1"})}});
    EXPECT_EQ(ruled.arena_bytes(), plain.arena_bytes());  // needs nothing: the same plan
    const OwnedTensor want = input_gradient(net, plain, x, "prob", 6);
    const OwnedTensor got = input_gradient(net, ruled, x, "prob", 6);
    ASSERT_TRUE(nonzero(want));
    OwnedTensor twice(in);
    add_forward(want, want, twice);
    EXPECT_TRUE(bitwise_equal(got, twice)) << "stash " << int(stash);
    ruled.enable_backward_rule("double_conv", false);  // per backward, without re-planning
    EXPECT_FALSE(ruled.backward_rule_enabled("double_conv"));
    EXPECT_TRUE(bitwise_equal(input_gradient(net, ruled, x, "prob", 6), want));
  }
}

TEST(BackwardRule, ARuleReadingAConvInputGetsItInACompactPlan) {
  const Network net(test::small_net(), Device::cpu);
  const Shape in{2, 3, 10, 10};
  OwnedTensor x(in);
  test::fill_uniform(x, 7);
  const PlanOptions compact{.backward = true, .stash = Stash::compact};
  // Without the rule the compact plan reuses inc/3x3_reduce's memory once inc/3x3 has read it.
  Plan plain = net.plan(in, {"prob"}, compact);
  EXPECT_NE(error_of([&] { net.activation(plain, "inc/3x3_reduce"); }).find("is not kept"), std::string::npos);
  PlanOptions o = compact;
  o.backward_rules = {std::make_shared<InputEchoRule>("inc/3x3")};
  o.grad_taps = {"inc/3x3_reduce"};
  Plan p = net.plan(in, {"prob"}, o);
  input_gradient(net, p, x, "prob", 8);
  // inc/3x3 is the only reader of inc/3x3_reduce (post-ReLU), so its gradient is what the rule
  // wrote: the input the forward left, exactly.
  PlainNet<float> ref(net.graph());
  ref.run(x);
  EXPECT_TRUE(nonzero(net.tapped_grad(p, "inc/3x3_reduce")));
  EXPECT_TRUE(bitwise_equal(net.tapped_grad(p, "inc/3x3_reduce"), net.activation(p, "inc/3x3_reduce")));
  EXPECT_TRUE(test::all_close(net.tapped_grad(p, "inc/3x3_reduce"), ref.blob("inc/3x3_reduce"), 1e-5, 1e-4));
}

TEST(BackwardRule, ARuleReadingAConvOutputKeepsThePreActivation) {
  const Network net(test::small_net(), Device::cpu);
  const Shape in{1, 3, 10, 10};
  Plan plain = net.plan(in, {"prob"}, PlanOptions{.backward = true});
  EXPECT_NE(error_of([&] { net.activation(plain, "conv1:pre"); }).find("overwritten in place by layer 'relu1'"),
            std::string::npos);
  Plan p = net.plan(in, {"prob"},
                    PlanOptions{.backward = true, .stash = Stash::compact,
                                .backward_rules = {std::make_shared<ReadsConvOutputRule>("conv1")}});
  OwnedTensor x(in);
  test::fill_uniform(x, 9);
  const OwnedTensor dx = input_gradient(net, p, x, "prob", 10);
  PlainNet<float> ref(net.graph());
  ref.run(x);
  EXPECT_TRUE(test::all_close(net.activation(p, "conv1:pre"), ref.layer("conv1"), 1e-5, 1e-4));
  const OwnedTensor want = input_gradient(net, plain, x, "prob", 10);  // the rule is the plain backward
  EXPECT_TRUE(test::all_close(dx, want, 1e-6, 1e-5));
}

// Taps hold the gradient as it was complete: inc/3x3 is a slice of inc/output's gradient that its
// in-place ReLU's backward overwrites with d(pre-activation), which the conv1:pre tap holds.
TEST(GradTap, TapsHoldGradientsBeforeInPlaceBackwardsOverwriteThem) {
  const Network net(test::small_net(), Device::cpu);
  const Shape in{2, 3, 10, 10};
  OwnedTensor x(in);
  test::fill_uniform(x, 11);
  std::vector<OwnedTensor> first;
  for (Stash stash : {Stash::full, Stash::compact}) {
    PlanOptions o{.backward = true, .stash = stash};
    o.grad_taps = {"inc/output", "inc/3x3", "conv1", "conv1:pre", "data"};
    Plan p = net.plan(in, {"prob"}, o);
    const OwnedTensor dx = input_gradient(net, p, x, "prob", 12);
    const Tensor d_out = net.tapped_grad(p, "inc/output"), d_3x3 = net.tapped_grad(p, "inc/3x3");
    EXPECT_TRUE(nonzero(d_out));
    EXPECT_TRUE(bitwise_equal(d_3x3, d_out.channels(4, 4)));
    EXPECT_FALSE(bitwise_equal(net.activation_grad(p, "inc/3x3"), d_3x3)) << "not overwritten: proves nothing";
    PlainNet<float> ref(net.graph());
    ref.run(x);
    OwnedTensor pre(ref.blob("conv1").shape());
    relu_backward_data_reference<float>(ref.blob("conv1"), net.tapped_grad(p, "conv1"), pre);
    EXPECT_TRUE(test::all_close(net.tapped_grad(p, "conv1:pre"), pre, 1e-6, 1e-5));
    EXPECT_TRUE(bitwise_equal(net.tapped_grad(p, "data"), dx));
    OwnedTensor keep(d_out.shape());
    copy(d_out, keep);
    first.push_back(std::move(keep));
  }
  EXPECT_TRUE(bitwise_equal(first[0], first[1])) << "compact and full taps differ";
}

TEST(GradTap, ATapCostsOnlyItsCopy) {
  const Network net(test::small_net(), Device::cpu);
  const Shape in{2, 3, 10, 10};
  const Plan a = net.plan(in, {"prob"}, PlanOptions{.backward = true});
  PlanOptions o{.backward = true};
  o.grad_taps = {"inc/output"};
  const Plan b = net.plan(in, {"prob"}, o);
  EXPECT_EQ(b.arena_bytes(), a.arena_bytes() + Arena::bytes_for(Shape{2, 14, 5, 5}));  // the tap's copy only
}

TEST(BackwardRule, MisuseIsOneClearError) {
  const Network net(test::small_net(), Device::cpu);
  const Shape in{1, 3, 10, 10};
  auto with_rule = [&](std::shared_ptr<const BackwardRule> r, PlanOptions o = {.backward = true},
                       std::vector<std::string> outs = {"prob"}) {
    o.backward_rules = {std::move(r)};
    return error_of([&] { net.plan(in, outs, o); });
  };
  std::string e = with_rule(std::make_shared<DoubleConvRule>(std::vector<std::string>{"conv7"}));
  EXPECT_NE(e.find("backward rule 'double_conv'"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown layer 'conv7'; did you mean conv1?"), std::string::npos) << e;
  e = with_rule(std::make_shared<DoubleConvRule>(std::vector<std::string>{"inc/5x5"}), {.backward = true},
                {"inc/3x3"});
  EXPECT_NE(e.find("selects layer 'inc/5x5', which this plan does not run"), std::string::npos) << e;
  e = with_rule(guided_relu_rule(), {});
  EXPECT_NE(e.find("backward rule 'guided_relu' needs a backward plan"), std::string::npos) << e;
  e = with_rule(std::make_shared<InputEchoRule>("inc/output"));
  EXPECT_NE(e.find("selects layer 'inc/output' (concat)"), std::string::npos) << e;
  e = with_rule(std::make_shared<DoubleConvRule>(std::vector<std::string>{"conv1"}), {.weight_grads = true});
  EXPECT_NE(e.find("of a weight_grads plan"), std::string::npos) << e;
  class MaskOfConv final : public BackwardRule {
   public:
    MaskOfConv() : BackwardRule("mask_of_conv", RuleTarget::named({"conv1"})) {}
    RuleNeeds needs(const LayerDesc&) const override { return RuleNeeds{.relu_mask = true}; }
    void backward(const BackwardArgs&) const override {}
  };
  e = with_rule(std::make_shared<MaskOfConv>());
  EXPECT_NE(e.find("needs a ReLU mask of layer 'conv1' (conv), which is not a ReLU"), std::string::npos) << e;
  e = with_rule(relu_redirect_rule());
  EXPECT_NE(e.find("two backward rules are named 'relu_redirect'"), std::string::npos) << e;

  // Two enabled rules on one layer: the redirect switched on beside guided backprop.
  Plan p = net.plan(in, {"prob"}, PlanOptions{.backward = true, .backward_rules = {guided_relu_rule()}});
  p.set_relu_gradient_override(true);
  OwnedTensor x(in), dx(in);
  test::fill_uniform(x, 13);
  net.forward(p, x);
  fill(net.activation_grad(p, "prob"), 1.f);
  e = error_of([&] { net.backward_to_input(p, dx); });
  EXPECT_NE(e.find("is selected by two enabled backward rules, 'relu_redirect' and 'guided_relu'; disable one"),
            std::string::npos) << e;
  e = error_of([&] { p.enable_backward_rule("guided", true); });
  EXPECT_NE(e.find("no backward rule 'guided' (it has: relu_redirect, guided_relu)"), std::string::npos) << e;
}

TEST(GradTap, MisuseIsOneClearError) {
  const Network net(test::small_net(), Device::cpu);
  const Shape in{1, 3, 10, 10};
  auto with_taps = [&](std::vector<std::string> taps, PlanOptions o = {.backward = true},
                       std::vector<std::string> outs = {"prob"}) {
    o.grad_taps = std::move(taps);
    return error_of([&] { net.plan(in, outs, o); });
  };
  std::string e = with_taps({"inc/outptu"});
  EXPECT_NE(e.find("gradient tap: network 'small_net': unknown layer or blob 'inc/outptu'; did you mean inc/output"),
            std::string::npos) << e;
  e = with_taps({"prob"}, {.backward = true}, {"inc/3x3"});
  EXPECT_NE(e.find("gradient tap 'prob' is not computed by this plan"), std::string::npos) << e;
  e = with_taps({"prob"}, {});
  EXPECT_NE(e.find("gradient tap 'prob' needs a backward plan"), std::string::npos) << e;

  PlanOptions o{.backward = true};
  o.grad_taps = {"inc/output"};
  Plan p = net.plan(in, {"prob"}, o);
  e = error_of([&] { net.tapped_grad(p, "inc/output"); });
  EXPECT_NE(e.find("tapped_grad: 'inc/output' holds no gradient yet"), std::string::npos) << e;
  OwnedTensor x(in), dx(in);
  test::fill_uniform(x, 14);
  net.forward(p, x);
  fill(net.activation_grad(p, "prob"), 1.f);
  net.backward_to_input(p, dx);
  EXPECT_NO_THROW(net.tapped_grad(p, "inc/output"));
  e = error_of([&] { net.tapped_grad(p, "norm1"); });
  EXPECT_NE(e.find("'norm1' is not a gradient tap of this plan (taps: inc/output)"), std::string::npos) << e;
  net.forward(p, x);  // a new forward: the old tap is stale until the next backward
  e = error_of([&] { net.tapped_grad(p, "inc/output"); });
  EXPECT_NE(e.find("holds no gradient yet"), std::string::npos) << e;
}

// The real GoogLeNet: the gradient of a random linear function of loss3/classifier at
// inception_4c/output, tapped from a compact and a full plan (bitwise equal: the stash is exact),
// against PlainNet<double>'s plain-loop backward from the same input. The float network and
// the double reference differ by float rounding (~1e-6 relative per op, over the ~20 convolutions
// between 4c and the logits and the ~40 before it), and by the rare ReLU or max-pool winner
// whose input lies within that rounding of the switch. Measured 3.1e-7 (normalised, over 100k
// elements); 1e-5 leaves a factor of 30 while a dropped branch or fan-out term is O(1).
TEST(GradTap, GoogLeNetInception4cGradientEqualsTheReferenceBackward) {
  const std::string dir = std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet";
  if (!std::filesystem::exists(dir + "/bvlc_googlenet.caffemodel")) GTEST_SKIP() << "no BVLC GoogLeNet in " << dir;
  const Network net(load_caffe(dir + "/deploy.prototxt", dir + "/bvlc_googlenet.caffemodel"), Device::cpu);
  const OwnedTensor x =
      read_npy_tensor(std::string(CUVIZ_SHARED_DIR) + "/weights/reference/bvlc_googlenet_chelsea_input.npy");
  const char* tap = "inception_4c/output";
  std::vector<OwnedTensor> taps;
  for (Stash stash : {Stash::full, Stash::compact}) {
    PlanOptions o{.backward = true, .stash = stash};
    o.grad_taps = {tap};
    Plan p = net.plan(x.shape(), {"loss3/classifier"}, o);
    net.forward(p, x);
    test::fill_uniform(net.activation_grad(p, "loss3/classifier"), 15);
    net.backward(p);
    OwnedTensor t(net.tapped_grad(p, tap).shape());
    copy(net.tapped_grad(p, tap), t);
    taps.push_back(std::move(t));
  }
  EXPECT_TRUE(bitwise_equal(taps[0], taps[1]));

  PlainNet<double> ref(net.graph());
  ref.run(test::to_double(x));
  OwnedTensor seed(Shape{1, 1000, 1, 1});
  test::fill_uniform(seed, 15);
  const OwnedTensorD seed_d = test::to_double(seed);
  ref.backward({{"loss3/classifier", &seed_d.view()}}, tap);
  const double error = test::normalised_error(taps[0], ref.grad(tap));
  std::printf("inception_4c/output gradient: normalised error %.3e against the double reference\n", error);
  EXPECT_LT(error, 1e-5);
}

}  // namespace cuviz
