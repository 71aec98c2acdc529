// LRP (viz/lrp.h):
//  - conservation on a bias-free GoogLeNet-like network written here (conv, ReLU, max pool, LRN,
//    an inception block with its concat, global average pool, dropout, flatten, linear): for every
//    composite, with epsilon -> 0, the relevance summed over every blob equals the target logit,
//    layer by layer (gradient taps read each blob's relevance); with biases it does not;
//  - the composites' rule assignment (first layer, convs, linear, pools, passes);
//  - clear errors: unknown composite, target out of range, layers without a rule;
//  - batched maps equal one-by-one maps;
//  - the real GoogLeNet (ONNX) against zennit 0.5.1 (tests/fixtures/make_lrp_fixtures.py): every
//    composite, two photos x two targets, cosine similarity >= 0.95 per map.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "loaders/onnx_loader.h"
#include "nn/lrp_rules.h"
#include "viz/image_source.h"
#include "viz/lrp.h"
#include "../nn/reference_net.h"
#include "lrp_nets.h"
#include "test_util.h"

namespace cuviz {

namespace {

using test::conservation_net;
using test::sums;

const char* kBlobs[] = {"data", "conv1:pre", "conv1", "pool1", "norm1", "inc/output", "gap", "flat", "fc"};

// The relevance summed over each of kBlobs for images x and targets (1, 3), and the logits.
std::vector<std::vector<double>> relevance_per_layer(const Network& net, const Tensor& x, const LrpOptions& opt,
                                                     std::vector<float>& logits) {
  std::vector<std::string> taps(std::begin(kBlobs), std::end(kBlobs));
  Plan p = net.plan(x.shape(), {"fc"},
                    PlanOptions{.backward = true, .backward_rules = lrp_rules(net, "fc", opt), .grad_taps = taps});
  net.forward(p, x);
  OwnedTensor fc(Shape{x.n(), 5, 1, 1}), seed(fc.shape());
  net.read_activation(p, "fc", fc);
  fill(seed, 0.f);
  const int targets[2] = {1, 3};
  logits.clear();
  for (int i = 0; i < x.n(); ++i) {
    seed.at(i, targets[i], 0, 0) = fc.at(i, targets[i], 0, 0);
    logits.push_back(fc.at(i, targets[i], 0, 0));
  }
  copy(seed, net.activation_grad(p, "fc"));
  OwnedTensor dx(x.shape());
  net.backward_to_input(p, dx);
  std::vector<std::vector<double>> out;
  for (const auto& b : taps) out.push_back(sums(net.tapped_grad(p, b)));
  // The map lrp() returns is the input's relevance.
  const std::vector<double> in = sums(dx);
  EXPECT_NEAR(in[0], out[0][0], 1e-6 * std::abs(in[0]) + 1e-7);
  return out;
}

}  // namespace

TEST(Lrp, EveryCompositeConservesRelevanceLayerByLayerWithoutBiases) {
  const Network net(conservation_net(false), Device::cpu);
  OwnedTensor x(Shape{2, 3, 10, 10});
  test::fill_uniform(x, 5, -1, 1);
  for (const std::string& c : lrp_composites()) {
    // alpha 2 beta 1 conserves only units with both positive and negative contributions: a unit
    // whose inputs all push one way hands down alpha R (or -beta R), and the sparse ReLU outputs
    // inside the inception block have such units. AlphaBetaConservesWhereBothPartsExist covers it.
    if (c.find("alpha2") != std::string::npos) continue;
    LrpOptions opt;
    opt.composite = c;
    opt.epsilon = 1e-9;
    opt.stabilizer = 1e-9;
    std::vector<float> logits;
    const auto per_layer = relevance_per_layer(net, x, opt, logits);
    for (size_t b = 0; b < per_layer.size(); ++b)
      for (int i = 0; i < 2; ++i)
        // Float sums of a few hundred terms of both signs: a few ulps of the logit.
        EXPECT_NEAR(per_layer[b][i], logits[i], 2e-5 * std::abs(logits[i]))
            << c << ": relevance at '" << kBlobs[b] << "', image " << i;
  }
}

// alpha 2 beta 1 on a conv over the raw image (27 inputs of both signs per unit: both parts are
// never empty), then ReLU, max pool, global average pool and an epsilon linear layer: conserved.
// On the inception net the same composite is not, by a unit with one-signed contributions.
TEST(Lrp, AlphaBetaConservesWhereBothPartsExist) {
  Graph g;
  g.name = "dense";
  g.input = "data";
  g.input_shape = Shape{2, 3, 10, 10};
  g.layers.push_back(test::conv_layer("conv1", "data", "conv1", 3, 6, 3, 1, 1));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "relu1", {"conv1"}, "conv1"));
  g.layers.push_back(test::pool_layer("pool1", "conv1", "pool1", Pool2dParams::make(PoolMode::max, 2, 2)));
  Pool2dParams gap = Pool2dParams::make(PoolMode::average, 1, 1);
  gap.global = true;
  g.layers.push_back(test::pool_layer("gap", "pool1", "gap", gap));
  g.layers.push_back(test::simple_layer(LayerKind::flatten, "flat", {"gap"}, "flat"));
  g.layers.push_back(test::linear_layer("fc", "flat", "fc", 6, 5, 40));
  for (auto& l : g.layers)
    if (l.weights.size() == 2) l.weights.pop_back();
  OwnedTensor x(Shape{2, 3, 10, 10});
  test::fill_uniform(x, 5, -1, 1);
  LrpOptions opt;
  opt.composite = "epsilon_alpha2_beta1";
  opt.epsilon = opt.stabilizer = 1e-9;
  for (int i = 0; i < 2; ++i) {
    const Network net(i == 0 ? std::move(g) : conservation_net(false), Device::cpu);
    const std::vector<int> targets = {1, 3};
    Lrp l(net, x.shape(), opt);
    const OwnedTensor r = l.relevance(x, targets);
    const std::vector<double> s = sums(r);
    for (int n = 0; n < 2; ++n) {
      const double err = std::abs(s[n] - l.scores()[n]);
      if (i == 0)
        EXPECT_LT(err, 2e-5 * std::abs(l.scores()[n])) << "dense net, image " << n;
      else
        EXPECT_GT(err, 1e-3 * std::abs(l.scores()[n])) << "inception net, image " << n;
    }
  }
}

// Where conservation breaks: biases take their share (z_j = sum_i z_ij + b_j, and b_j's part of
// R_j stays behind), and a large epsilon absorbs relevance.
TEST(Lrp, BiasesAndALargeEpsilonAbsorbRelevance) {
  OwnedTensor x(Shape{2, 3, 10, 10});
  test::fill_uniform(x, 5, -1, 1);
  std::vector<float> logits;
  LrpOptions opt;
  opt.composite = "epsilon";
  opt.epsilon = 1e-9;
  {
    const Network net(conservation_net(true), Device::cpu);
    const auto per_layer = relevance_per_layer(net, x, opt, logits);
    EXPECT_GT(std::abs(per_layer[0][0] - logits[0]), 1e-3 * std::abs(logits[0])) << "biases: input relevance "
                                                                                  << per_layer[0][0];
  }
  const Network net(conservation_net(false), Device::cpu);
  opt.epsilon = 10;
  const auto per_layer = relevance_per_layer(net, x, opt, logits);
  for (int i = 0; i < 2; ++i) EXPECT_LT(std::abs(per_layer[0][i]), 0.9 * std::abs(logits[i])) << "epsilon 10";
}

TEST(Lrp, CompositesAssignRulesByLayerPosition) {
  const Network net(conservation_net(true), Device::cpu);
  auto rule_layers = [&](const std::string& composite) {
    LrpOptions opt;
    opt.composite = composite;
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& r : lrp_rules(net, "fc", opt)) out[r->name()] = r->target().layers;
    return out;
  };
  const auto box = rule_layers("epsilon_gamma_box");
  EXPECT_EQ(box.at("lrp_first"), std::vector<std::string>{"conv1"});
  EXPECT_EQ(box.at("lrp_conv").size(), 6u);  // the inception block's six convs
  EXPECT_EQ(box.at("lrp_linear"), std::vector<std::string>{"fc"});
  EXPECT_EQ(box.at("lrp_avgpool"), std::vector<std::string>{"gap"});  // max pools: their gradient
  EXPECT_EQ(box.at("lrp_pass").size(), 8u);  // 7 ReLUs and the LRN
  const auto plus = rule_layers("epsilon_plus");
  EXPECT_EQ(plus.count("lrp_first"), 0u);
  EXPECT_EQ(plus.at("lrp_conv").size(), 7u);
  EXPECT_EQ(rule_layers("epsilon_plus_flat").at("lrp_first"), std::vector<std::string>{"conv1"});
  EXPECT_EQ(lrp_composites().size(), 10u);
}

TEST(Lrp, BadInputsAreClearErrors) {
  const Network net(conservation_net(true), Device::cpu);
  OwnedTensor x(Shape{1, 3, 10, 10});
  test::fill_uniform(x, 1);
  auto error_of = [&](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  LrpOptions bad;
  bad.composite = "epsilon_plux";
  EXPECT_NE(error_of([&] { lrp(net, x, {0}, bad); }).find("lrp: unknown composite 'epsilon_plux' (known: epsilon_gamma_box"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lrp(net, x, {5}, LrpOptions{}); }).find("lrp: target 5 out of range [0, 5)"), std::string::npos);
  EXPECT_NE(error_of([&] { lrp(net, x, {-1}, LrpOptions{}); }).find("out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { lrp(net, x, {0, 1}, LrpOptions{}); }).find("2 targets for 1 images"), std::string::npos);
  const Network res(test::small_net(), Device::cpu);  // has a residual add
  EXPECT_NE(error_of([&] { lrp(res, x, {0}, LrpOptions{}); }).find("layer 'res' (add) has no LRP rule"),
            std::string::npos);
}

TEST(Lrp, ABatchGivesTheMapsOfItsImagesOneByOne) {
  const Network net(conservation_net(true), Device::cpu);
  OwnedTensor x(Shape{2, 3, 10, 10});
  test::fill_uniform(x, 8);
  LrpOptions opt;
  opt.composite = "epsilon_gamma_box";
  const OwnedTensor both = lrp(net, x, {2, 4}, opt);
  for (int i = 0; i < 2; ++i) {
    const OwnedTensor one = lrp(net, x.batch(i, 1), {i == 0 ? 2 : 4}, opt);
    for (int64_t k = 0; k < one.numel(); ++k) ASSERT_NEAR(both.image(i)[k], one.data()[k], 1e-6 + 1e-5 * std::abs(one.data()[k]));
  }
}

// The GPU's default plan is compact (ReLU bit masks, max-pool winners, activations sharing memory):
// the rules' declared needs keep what they read, so the map is the full plan's.
TEST(Lrp, ACompactPlanGivesTheSameMaps) {
  const Network net(conservation_net(true), Device::cpu);
  OwnedTensor x(Shape{2, 3, 10, 10});
  test::fill_uniform(x, 9);
  for (const std::string& c : lrp_composites()) {
    LrpOptions opt;
    opt.composite = c;
    const OwnedTensor want = lrp(net, x, {0, 4}, opt);
    Plan p = net.plan(x.shape(), {"fc"},
                      PlanOptions{.backward = true, .stash = Stash::compact, .backward_rules = lrp_rules(net, "fc", opt)});
    net.forward(p, x);
    OwnedTensor fc(Shape{2, 5, 1, 1}), seed(fc.shape());
    net.read_activation(p, "fc", fc);
    fill(seed, 0.f);
    seed.at(0, 0, 0, 0) = fc.at(0, 0, 0, 0);
    seed.at(1, 4, 0, 0) = fc.at(1, 4, 0, 0);
    copy(seed, net.activation_grad(p, "fc"));
    OwnedTensor got(x.shape());
    net.backward_to_input(p, got);
    for (int64_t k = 0; k < got.numel(); ++k)
      ASSERT_NEAR(got.data()[k], want.data()[k], 1e-6 + 1e-5 * std::abs(want.data()[k])) << c << " element " << k;
  }
}

// --- GoogLeNet against zennit ------------------------------------------------------------------

namespace {

const std::string kOnnx = std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet/bvlc_googlenet.onnx";
const std::string kFixtures = std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/lrp";

using test::cosine;
using test::read_npy_f16;

void compare_with_zennit(const std::string& composite) {
  if (!std::filesystem::exists(kOnnx)) GTEST_SKIP() << "no GoogLeNet ONNX weights at " << kOnnx;
  std::ifstream mf(kFixtures + "/meta.json");
  ASSERT_TRUE(mf.good()) << "no fixtures in " << kFixtures;
  const nlohmann::json meta = nlohmann::json::parse(mf);
  const Network net(load_onnx(kOnnx), Device::cpu);
  LrpOptions opt;
  opt.composite = composite;
  for (const std::string image : {"astronaut", "chelsea"}) {
    const auto& m = meta["maps"][image];
    const std::vector<int> targets = m["targets"].get<std::vector<int>>();
    const OwnedTensor one = load_network_input(std::string(CUVIZ_SHARED_DIR) + "/images/" + image + ".png",
                                               net.graph().meta, 1, 224);
    // Both targets in one batch of two copies of the photo.
    OwnedTensor x(Shape{2, 3, 224, 224});
    copy(one, x.batch(0, 1));
    copy(one, x.batch(1, 1));
    Lrp lrp_(net, x.shape(), opt);
    const OwnedTensor rel = lrp_.relevance(x, targets);
    std::vector<int64_t> dims;
    const std::vector<float> ref = read_npy_f16(kFixtures + "/" + image + "_" + composite + ".npy", dims);
    ASSERT_EQ(dims, (std::vector<int64_t>{2, 224, 224}));
    for (int t = 0; t < 2; ++t) {
      // Same input: the logits agree with torch's.
      const double logit = m["logits"][t].get<double>();
      EXPECT_NEAR(lrp_.scores()[t], logit, 2e-3 * std::abs(logit)) << image << " target " << targets[t];
      std::vector<float> heat(224 * 224, 0.f);  // relevance summed over colour, as zennit's heat map
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 224 * 224; ++k) heat[k] += rel.image(t)[c * 224 * 224 + k];
      const double cs = cosine(heat.data(), ref.data() + t * 224 * 224, 224 * 224);
      double sum = 0;
      for (float v : heat) sum += v;
      const double zsum = m["composites"][composite]["sum"][t].get<double>();
      std::printf("  %-26s %-9s target %3d: cosine %.6f, relevance sum %.4f (zennit %.4f), logit %.3f\n",
                  composite.c_str(), image.c_str(), targets[t], cs, sum, zsum, logit);
      // The bar is 0.95; the rules are zennit's exactly, so the maps agree to float16 (the
      // fixtures' precision) and float summation order: hold them to 0.999.
      EXPECT_GE(cs, 0.999) << composite << " " << image << " target " << targets[t];
      EXPECT_NEAR(sum, zsum, 2e-3 * std::abs(zsum)) << composite << " " << image << " target " << targets[t];
      if (t == 0 && m["composites"][composite].contains("full_scale")) {
        const std::vector<float> full = read_npy_f16(kFixtures + "/" + image + "_" + composite + "_full.npy", dims);
        ASSERT_EQ(dims, (std::vector<int64_t>{3, 224, 224}));
        const double cf = cosine(rel.image(0), full.data(), 3 * 224 * 224);
        std::printf("  %-26s %-9s target %3d: cosine of the 3-channel map %.6f\n", composite.c_str(), image.c_str(),
                    targets[t], cf);
        EXPECT_GE(cf, 0.999);
      }
    }
  }
}

}  // namespace

TEST(LrpGoogLeNet, EpsilonGammaBoxMatchesZennit) { compare_with_zennit("epsilon_gamma_box"); }
TEST(LrpGoogLeNet, EpsilonPlusMatchesZennit) { compare_with_zennit("epsilon_plus"); }
TEST(LrpGoogLeNet, EpsilonPlusFlatMatchesZennit) { compare_with_zennit("epsilon_plus_flat"); }
TEST(LrpGoogLeNet, EpsilonAlpha2Beta1MatchesZennit) { compare_with_zennit("epsilon_alpha2_beta1"); }
TEST(LrpGoogLeNet, EpsilonAlpha2Beta1FlatMatchesZennit) { compare_with_zennit("epsilon_alpha2_beta1_flat"); }

}  // namespace cuviz
