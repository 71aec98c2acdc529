// The Attributor on CUDA: the input gradient against the CPU's, and equal value for value to the
// gradient of a CUDA Renderer step with param input on the same input. Skips without a device.
#include <gtest/gtest.h>

#include "../nn/reference_net.h"
#include "io/npy.h"
#include "nn/network.h"
#include "test_util.h"
#include "method_test_util.h"
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

}  // namespace
}  // namespace cuviz
