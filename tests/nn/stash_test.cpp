// Compact backward plans (PlanOptions::stash = Stash::compact) on the real BVLC GoogLeNet: the input
// gradient is bitwise the one of a plan that keeps every activation (ReLU masks and max-pool
// winners route exactly as the recomputing backwards), with and without the ReLU gradient
// override, in a much smaller arena; freed blobs are refused by name. Skipped without the
// shared weights.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "loaders/caffe_loader.h"
#include "nn/network.h"
#include "test_util.h"

namespace cuviz {
namespace {

const std::string kDir = std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet";

#define REQUIRE_GOOGLENET()                                                                      \
  do {                                                                                           \
    if (!std::filesystem::exists(kDir + "/bvlc_googlenet.caffemodel"))                           \
      GTEST_SKIP() << "no BVLC GoogLeNet weights in " << kDir;                                   \
  } while (0)

const Network& googlenet() {
  static const Network net(load_caffe(kDir + "/deploy.prototxt", kDir + "/bvlc_googlenet.caffemodel"), Device::cpu);
  return net;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int i = 0; i < a.n(); ++i)
    if (std::memcmp(a.image(i), b.image(i), size_t(a.shape().image_size()) * sizeof(float)) != 0) return false;
  return true;
}

// dx of `plan` for input x and a random seed on each output (the same seeds for every plan).
OwnedTensor input_gradient(const Network& net, Plan& plan, const Tensor& x, const std::vector<std::string>& outs) {
  net.forward(plan, x);
  uint64_t seed = 40;
  for (const auto& o : outs) test::fill_uniform(net.activation_grad(plan, o), seed++);
  OwnedTensor dx(x.shape());
  net.backward_to_input(plan, dx);
  return dx;
}

void expect_compact_matches_full(const std::vector<std::string>& outs) {
  const Network& net = googlenet();
  const Shape in{2, 3, 64, 64};
  Plan full = net.plan(in, outs, PlanOptions{.backward = true, .stash = Stash::full});
  Plan compact = net.plan(in, outs, PlanOptions{.backward = true, .stash = Stash::compact});
  std::printf("GoogLeNet %s, outputs %s: arena %zu bytes full, %zu compact (%.1f%%)\n", in.str().c_str(),
              outs.back().c_str(), full.arena_bytes(), compact.arena_bytes(),
              100.0 * double(compact.arena_bytes()) / double(full.arena_bytes()));
  // The gradients (one block, as in every backward plan) are 46% of the full arena, and LRN keeps
  // its input and output (conv2/3x3, conv2/norm2, pool1, norm1): measured 89.4% at this size,
  // the activations' share alone falling from 1.43 MB to 0.75 MB (docs/network.md).
  EXPECT_LT(double(compact.arena_bytes()), 0.9 * double(full.arena_bytes()));
  OwnedTensor x(in);
  test::fill_uniform(x.view(), 7, -100.0, 100.0);  // Caffe's mean-subtracted 0..255 range
  for (bool redirect : {false, true}) {
    full.set_relu_gradient_override(redirect);
    compact.set_relu_gradient_override(redirect);
    const OwnedTensor want = input_gradient(net, full, x, outs);
    const OwnedTensor got = input_gradient(net, compact, x, outs);
    for (const auto& o : outs)
      EXPECT_TRUE(bitwise_equal(net.activation(compact, o), net.activation(full, o))) << o;
    bool nonzero = false;
    for (int64_t k = 0; k < want.numel() && !nonzero; ++k) nonzero = want.data()[k] != 0.f;
    EXPECT_TRUE(nonzero) << "a zero gradient proves nothing";
    EXPECT_TRUE(bitwise_equal(got, want)) << "relu gradient override " << redirect;
  }
}

}  // namespace

TEST(CompactStash, GoogLeNetInputGradientIsBitwiseTheFullPlans) {
  REQUIRE_GOOGLENET();
  expect_compact_matches_full({"inception_4a/output"});
}

TEST(CompactStash, GoogLeNetTwoOutputsKeepBothAndMatchBitwise) {
  REQUIRE_GOOGLENET();
  expect_compact_matches_full({"conv2/3x3", "inception_4a/output"});
}

TEST(CompactStash, FreedBlobsAreRefusedNamingTheFix) {
  REQUIRE_GOOGLENET();
  const Network& net = googlenet();
  Plan p = net.plan(Shape{1, 3, 64, 64}, {"inception_4a/output"},
                    PlanOptions{.backward = true, .stash = Stash::compact});
  OwnedTensor x(p.input_shape());
  test::fill_uniform(x.view(), 8, -100.0, 100.0);
  net.forward(p, x);
  EXPECT_EQ(net.activation(p, "inception_4a/output").c(), 512);
  OwnedTensor host(net.activation(p, "inception_4a/output").shape());
  net.read_activation(p, "inception_4a/output", host);
  EXPECT_TRUE(bitwise_equal(host, net.activation(p, "inception_4a/output")));
  auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& err) {
      return err.what();
    }
    return "";
  };
  for (const char* freed : {"conv2/3x3_reduce", "inception_3b/output"}) {
    const std::string e = error_of([&] { (void)net.activation(p, freed); });
    EXPECT_NE(e.find("PlanOptions::stash"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string("add '") + freed + "' to the plan's outputs"), std::string::npos) << e;
    const std::string r = error_of([&] { net.read_activation(p, freed, host); });
    EXPECT_NE(r.find("read_activation: '" + std::string(freed) + "' is not kept"), std::string::npos) << r;
  }
  // LRN's input stays (its backward reads it), the gradients stay, and every blob with the stash off.
  EXPECT_EQ(net.activation(p, "pool1/3x3_s2").c(), 64);
  EXPECT_EQ(net.activation_grad(p, "conv2/3x3_reduce").c(), 64);
  const Plan keep = net.plan(Shape{1, 3, 64, 64}, {"inception_4a/output"},
                             PlanOptions{.backward = true, .stash = Stash::full});
  EXPECT_EQ(net.activation(keep, "conv2/3x3_reduce").c(), 64);
}

// The numbers of docs/network.md (plans only: nothing runs).
TEST(CompactStash, ArenaBytesOfTheDocs) {
  REQUIRE_GOOGLENET();
  const Network& net = googlenet();
  for (int size : {224, 64}) {
    const Shape in{1, 3, size, size};
    const Plan full = net.plan(in, {"inception_4a/output"}, PlanOptions{.backward = true, .stash = Stash::full});
    const Plan compact =
        net.plan(in, {"inception_4a/output"}, PlanOptions{.backward = true, .stash = Stash::compact});
    const Plan fwd = net.plan(in, {"inception_4a/output"});
    std::printf("GoogLeNet inception_4a %s: forward-only %zu, backward full %zu, compact %zu bytes (%.1f%%)\n",
                in.str().c_str(), fwd.arena_bytes(), full.arena_bytes(), compact.arena_bytes(),
                100.0 * double(compact.arena_bytes()) / double(full.arena_bytes()));
    EXPECT_LT(compact.arena_bytes(), full.arena_bytes());
  }
}

// Stash::automatic is full on the CPU (the extra mask and winner passes only cost time there)
// and compact on a GPU (tests/nn/*_cuda_test.cpp run it there); weight gradients keep everything.
TEST(CompactStash, AutomaticIsFullOnTheCpuAndWeightGradientsKeepEverything) {
  REQUIRE_GOOGLENET();
  const Network& net = googlenet();
  const Shape in{1, 3, 64, 64};
  const Plan full = net.plan(in, {"inception_4a/output"}, PlanOptions{.backward = true, .stash = Stash::full});
  const Plan automatic = net.plan(in, {"inception_4a/output"}, PlanOptions{.backward = true});
  EXPECT_EQ(automatic.arena_bytes(), full.arena_bytes());
  EXPECT_EQ(net.activation(automatic, "conv2/3x3_reduce").c(), 64);
  const Plan training = net.plan(in, {"inception_4a/output"},
                                 PlanOptions{.weight_grads = true, .stash = Stash::compact});
  EXPECT_EQ(net.activation(training, "conv2/3x3_reduce").c(), 64);
}

}  // namespace cuviz
