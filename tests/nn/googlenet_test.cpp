// nn/Network on the real BVLC GoogLeNet (Caffe files in ../shared/weights): published totals
// from describe(), truncation at inception_4a/output, inception branches living in their concat
// slice, and the input gradient of a truncated plan against a float directional difference.
// Skipped when the shared weights are not present.
#include <filesystem>

#include "loaders/caffe_loader.h"
#include "io/npy.h"
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

Network googlenet() { return Network(load_caffe(kDir + "/deploy.prototxt", kDir + "/bvlc_googlenet.caffemodel"), Device::cpu); }

bool runs(const Plan& p, const std::string& layer) {
  return std::find(p.layers().begin(), p.layers().end(), layer) != p.layers().end();
}

}  // namespace

TEST(GoogLeNet, DescribeGivesThePublishedTotals) {
  REQUIRE_GOOGLENET();
  const Network net = googlenet();
  const Plan p = net.plan(Shape{1, 3, 224, 224});
  int64_t params = 0, macs = 0;
  for (const auto& l : net.describe(p)) params += l.params, macs += l.macs;
  // Published (truncated to two decimals): 6.99 M parameters and 1.58 G multiply-accumulates.
  EXPECT_EQ(params / 10000, 699) << params;
  EXPECT_EQ(macs / 10000000, 158) << macs;
}

TEST(GoogLeNet, PlanForInception4aStopsThereAndItsBranchesWriteIntoTheConcat) {
  REQUIRE_GOOGLENET();
  const Network net = googlenet();
  Plan full = net.plan(Shape{1, 3, 224, 224});
  Plan p = net.plan(Shape{1, 3, 224, 224}, {"inception_4a/output"});
  EXPECT_TRUE(runs(p, "inception_4a/5x5"));
  EXPECT_FALSE(runs(p, "inception_4b/1x1"));
  EXPECT_FALSE(runs(p, "loss3/classifier"));
  EXPECT_LT(p.layers().size(), full.layers().size());
  EXPECT_LT(p.arena_bytes(), full.arena_bytes());
  const Tensor out = net.activation(p, "inception_4a/output");
  EXPECT_EQ(out.shape(), (Shape{1, 512, 14, 14}));
  // Branch order 1x1 (192), 3x3 (208), 5x5 (48), pool_proj (64).
  EXPECT_EQ(net.activation(p, "inception_4a/1x1").data(), out.channels(0, 192).data());
  EXPECT_EQ(net.activation(p, "inception_4a/3x3").data(), out.channels(192, 208).data());
  EXPECT_EQ(net.activation(p, "inception_4a/5x5").data(), out.channels(400, 48).data());
  EXPECT_EQ(net.activation(p, "inception_4a/pool_proj").data(), out.channels(448, 64).data());
}

// Directional derivative: (L(x + e d) - L(x - e d)) / 2e against <dL/dx, d>, L = <w, a(x)>,
// a = inception_4a/output, d uniform in [-1, 1) per pixel, x the preprocessed "chelsea" image.
// The whole network exists only in float, so the difference is taken in float. Measured on
// this input, the difference quotient at e = 1/16, 1/64, 1/256 is -43.9, -46.7, -42.6: larger e
// switches ReLUs and max-pool winners, smaller e drowns in float rounding of L. e = 1/64 and a
// 5% tolerance are therefore the resolution of a float difference on this network; dropping a
// branch or a fan-out term of the backward moves the result by far more.
TEST(GoogLeNet, InputGradientMatchesADirectionalDifference) {
  REQUIRE_GOOGLENET();
  const Network net = googlenet();
  Plan p = net.plan(Shape{1, 3, 224, 224}, {"inception_4a/output"}, PlanOptions{.backward = true});
  OwnedTensor x(p.input_shape()), d(p.input_shape()), xe(p.input_shape()), dx(p.input_shape());
  copy(read_npy_tensor(std::string(CUVIZ_SHARED_DIR) + "/weights/reference/bvlc_googlenet_chelsea_input.npy"), x);
  test::fill_uniform(d, 2);
  const Shape as = net.activation(p, "inception_4a/output").shape();
  OwnedTensor w(as);
  test::fill_uniform(w, 3);
  auto loss = [&](float e) {
    for (int64_t k = 0; k < x.numel(); ++k) xe.data()[k] = x.data()[k] + e * d.data()[k];
    net.forward(p, xe);
    const Tensor a = net.activation(p, "inception_4a/output");
    double s = 0;
    for (int64_t k = 0; k < a.numel(); ++k) s += double(a.data()[k]) * w.data()[k];
    return s;
  };
  const float e = 1.f / 64;
  const double fd = (loss(e) - loss(-e)) / (2 * e);
  net.forward(p, x);
  copy(w, net.activation_grad(p, "inception_4a/output"));
  net.backward_to_input(p, dx);
  double an = 0;
  for (int64_t k = 0; k < x.numel(); ++k) an += double(dx.data()[k]) * d.data()[k];
  EXPECT_NEAR(an, fd, 0.05 * std::abs(fd)) << "backward " << an << ", finite difference " << fd;
}

}  // namespace cuviz
