// LRP on a CUDA device against the CPU: every composite (which between them use every rule:
// epsilon, zplus, alpha-beta, gamma, zbox, flat, norm, pass) and w^2 on the GoogLeNet-like net of
// lrp_nets.h, in the GPU's compact plan, with and without biases; and the real GoogLeNet against
// zennit's maps (tests/fixtures/lrp). Skipped without a device.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/cuda_runtime.h"
#include "loaders/onnx_loader.h"
#include "nn/lrp_rules.h"
#include "viz/image_source.h"
#include "viz/lrp.h"
#include "lrp_nets.h"
#include "test_util.h"

namespace cuviz {

namespace {

// max |a - b| / max |b| over two CPU tensors of one shape.
double relative_difference(const Tensor& a, const Tensor& b) {
  double m = 0, d = 0;
  for (int64_t k = 0; k < b.numel(); ++k) {
    m = std::max(m, double(std::abs(b.data()[k])));
    d = std::max(d, double(std::abs(a.data()[k] - b.data()[k])));
  }
  return m > 0 ? d / m : d;
}

// Relevance of x through the w^2 rule on every conv and linear layer (passes elsewhere).
OwnedTensor wsquare_relevance(Device device, const Tensor& x) {
  const Network net(test::conservation_net(true), device);
  std::vector<std::string> weighted, passes;
  for (const auto& l : net.graph().layers) {
    if (l.kind == LayerKind::conv || l.kind == LayerKind::linear) weighted.push_back(l.name);
    if (l.kind == LayerKind::relu || l.kind == LayerKind::lrn) passes.push_back(l.name);
  }
  LrpRuleSpec w2, pass;
  w2.kind = LrpRuleKind::wsquare;
  pass.kind = LrpRuleKind::pass;
  Plan p = net.plan(x.shape(), {"fc"},
                    PlanOptions{.backward = true,
                                .backward_rules = {lrp_rule("w2", RuleTarget::named(weighted), w2, net),
                                                   lrp_rule("pass", RuleTarget::named(passes), pass, net)}});
  net.forward(p, x);
  OwnedTensor seed(Shape{x.n(), 5, 1, 1});
  test::fill_uniform(seed, 3);
  copy(seed, net.activation_grad(p, "fc"));
  OwnedTensor dx(x.shape());
  net.backward_to_input(p, dx);
  return dx;
}

}  // namespace

TEST(LrpCuda, EveryCompositeMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  OwnedTensor x(Shape{2, 3, 10, 10});
  test::fill_uniform(x, 5, -1, 1);
  for (bool biases : {false, true}) {
    const Network cpu(test::conservation_net(biases), Device::cpu);
    const Network gpu(test::conservation_net(biases), Device::cuda);
    for (const std::string& c : lrp_composites()) {
      LrpOptions opt;
      opt.composite = c;
      const OwnedTensor a = lrp(gpu, x, {1, 3}, opt);
      const OwnedTensor b = lrp(cpu, x, {1, 3}, opt);
      // Float kernels in other summation orders over ~10 layers (network_cuda_test's 1e-4 + 1e-3).
      EXPECT_LT(relative_difference(a, b), 1e-3) << c << (biases ? " with biases" : "");
    }
  }
  EXPECT_LT(relative_difference(wsquare_relevance(Device::cuda, x), wsquare_relevance(Device::cpu, x)), 1e-3) << "w^2";
}

TEST(LrpCuda, GoogLeNetMatchesZennit) {
  CUVIZ_REQUIRE_GPU();
  const std::string onnx = std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet/bvlc_googlenet.onnx";
  const std::string fixtures = std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/lrp";
  if (!std::filesystem::exists(onnx)) GTEST_SKIP() << "no GoogLeNet ONNX weights";
  std::ifstream mf(fixtures + "/meta.json");
  ASSERT_TRUE(mf.good());
  const nlohmann::json meta = nlohmann::json::parse(mf);
  const Network net(load_onnx(onnx), Device::cuda);
  for (const std::string& composite : {"epsilon_gamma_box", "epsilon_plus", "epsilon_plus_flat",
                                       "epsilon_alpha2_beta1", "epsilon_alpha2_beta1_flat"}) {
    LrpOptions opt;
    opt.composite = composite;
    for (const std::string image : {"astronaut", "chelsea"}) {
      const std::vector<int> targets = meta["maps"][image]["targets"].get<std::vector<int>>();
      const OwnedTensor one = load_network_input(std::string(CUVIZ_SHARED_DIR) + "/images/" + image + ".png",
                                                 net.graph().meta, 1, 224);
      OwnedTensor x(Shape{2, 3, 224, 224});
      copy(one, x.batch(0, 1));
      copy(one, x.batch(1, 1));
      const OwnedTensor rel = lrp(net, x, targets, opt);
      std::vector<int64_t> dims;
      const std::vector<float> ref = test::read_npy_f16(fixtures + "/" + image + "_" + composite + ".npy", dims);
      for (int t = 0; t < 2; ++t) {
        std::vector<float> heat(224 * 224, 0.f);
        for (int c = 0; c < 3; ++c)
          for (int k = 0; k < 224 * 224; ++k) heat[k] += rel.image(t)[c * 224 * 224 + k];
        const double cs = test::cosine(heat.data(), ref.data() + t * 224 * 224, 224 * 224);
        std::printf("  cuda %-26s %-9s target %3d: cosine %.6f\n", composite.c_str(), image.c_str(), targets[t], cs);
        EXPECT_GE(cs, 0.999) << composite << " " << image << " target " << targets[t];
      }
    }
  }
}

}  // namespace cuviz
