// The gradient trace on CUDA: every traced value's statistics and gradient against the CPU trace,
// and the input gradient equal value for value to the CUDA Attributor's. Skips without a device.
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/reference_net.h"
#include "method_test_util.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/attribution.h"
#include "viz/trace.h"

namespace cuviz {
namespace {

TEST(TraceCuda, MatchesTheCpuAndTheAttributor) {
  CUVIZ_REQUIRE_GPU();
  const Objective obj = parse_objective("fc:2 + 0.5*inc/output:3");
  OwnedTensor x(Shape{1, 3, 12, 12});
  test::fill_uniform(x, 9, -0.5, 0.5);
  const Network cpu(test::unit_net(), Device::cpu), gpu(test::unit_net(), Device::cuda);
  const TraceResult rc = trace_backward(cpu, obj, x), rg = trace_backward(gpu, obj, x);
  ASSERT_EQ(rc.steps.size(), rg.steps.size());
  EXPECT_NEAR(rg.objective, rc.objective, 1e-5 * (1 + std::abs(rc.objective)));
  for (size_t i = 0; i < rc.steps.size(); ++i) {
    const TraceStep &c = rc.steps[i], &g = rg.steps[i];
    ASSERT_EQ(g.value, c.value);
    EXPECT_EQ(g.shape, c.shape) << c.value;
    // Summation orders differ (blocked convolutions, reductions): ~1e-6 relative.
    EXPECT_TRUE(test::all_close(g.grad, c.grad, 1e-5, 1e-4)) << c.value;
    EXPECT_NEAR(g.act_mean, c.act_mean, 1e-4 * (1 + std::abs(c.act_mean))) << c.value;
    EXPECT_NEAR(g.grad_norm, c.grad_norm, 1e-4 * c.grad_norm + 1e-9) << c.value;
    EXPECT_EQ(g.trunk, c.trunk) << c.value;
  }
  Attributor a(gpu, {obj}, x.shape());
  const OwnedTensor want = a.gradient(x);
  const Tensor& got = rg.steps.back().grad;
  int64_t differ = 0;
  for (int64_t k = 0; k < got.numel(); ++k) differ += got.data()[k] != want.data()[k];
  EXPECT_EQ(differ, 0) << "of " << got.numel();
}

}  // namespace
}  // namespace cuviz
