// The Attributor on CUDA: the input gradient against the CPU's, and equal value for value to the
// gradient of a CUDA Renderer step with param input on the same input. Skips without a device.
#include <gtest/gtest.h>

#include "../nn/reference_net.h"
#include "io/npy.h"
#include "nn/network.h"
#include "test_util.h"
#include "method_test_util.h"
#include "viz/attribute_methods.h"
#include "viz/attribution.h"
#include "viz/render.h"

namespace cuviz {
namespace {

TEST(AttributorCuda, MatchesTheCpuAndTheRenderer) {
  CUVIZ_REQUIRE_GPU();
  const Objective obj = parse_objective("inc/output:3 - 0.1*tv + logit:1");
  OwnedTensor x(Shape{1, 3, 16, 16});
  test::fill_uniform(x, 5, -0.5, 0.5);
  Network cpu(test::unit_net(), Device::cpu), gpu(test::unit_net(), Device::cuda);
  Attributor ac(cpu, {obj}, x.shape()), ag(gpu, {obj}, x.shape());
  const OwnedTensor gc = ac.gradient(x), gg = ag.gradient(x);
  // Summation orders differ (blocked convolutions, reductions): ~1e-6 relative.
  EXPECT_TRUE(test::all_close(gg, gc, 1e-5, 1e-4));

  const std::string path = cat(::testing::TempDir(), "/attribution_cuda.npy");
  write_npy(path, x);
  RenderOptions o;
  o.size = 16;
  o.param = ParamKind::input;
  o.transforms = TransformSpec::none();
  o.source = ImageSource::parse(path);
  o.device = Device::cuda;
  Renderer r(gpu, {obj}, o);
  r.gradient(0);
  OwnedTensor dp(x.shape());
  copy(r.param_grad(), dp);
  int64_t differ = 0;
  for (int64_t k = 0; k < dp.numel(); ++k) differ += gg.data()[k] != -dp.data()[k];
  EXPECT_EQ(differ, 0);
}

// Every attribution method runs through the Attributor on the network's device: on CUDA each map
// equals the CPU's up to summation order (guided backprop and the deconvnet through their rules,
// Grad-CAM through the gradient tap; occlusion's forwards).
TEST(AttributeMethodsCuda, EveryMethodMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  Network cpu(test::unit_net(), Device::cpu), gpu(test::unit_net(), Device::cuda);
  OwnedTensor x(Shape{2, 3, 16, 16});
  test::fill_uniform(x, 9, -0.5, 0.5);
  const std::vector<int> targets = {2, 1};
  AttributionSettings s;
  s.samples = 3;
  s.steps = 6;
  s.patch = 6;
  s.stride = 5;
  s.layer = "inc/output";
  for (const AttributionMethod& m : attribution_methods()) {
    const AttributionMap c = m.run(cpu, x, targets, s, {}), g = m.run(gpu, x, targets, s, {});
    ASSERT_EQ(c.raw.shape(), g.raw.shape()) << m.name;
    EXPECT_TRUE(test::all_close(g.raw, c.raw, 1e-5, 1e-3)) << m.name;
  }
}

}  // namespace
}  // namespace cuviz
