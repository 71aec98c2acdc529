// The BF16/TF32 render guard on the GPU's tensor cores (tests/viz/precision_guard.h): real
// GoogLeNet channels rendered with tensor-core convolutions must reach >= 95% of the FP32
// renders' mean objective, at the CPU test's settings.
#include <cstdio>

#include "core/cuda_runtime.h"
#include "precision_guard.h"
#include "test_util.h"

namespace cuviz {
namespace {

class PrecisionRenderGuardCuda : public ::testing::TestWithParam<Precision> {};

TEST_P(PrecisionRenderGuardCuda, ReachesNinetyFivePercentOfFp32) {
  CUVIZ_REQUIRE_GPU();
  std::string why;
  const auto net = test::guard_network(Device::cuda, why);
  if (!net) GTEST_SKIP() << why;
  const Precision prec = GetParam();
  const auto r = test::precision_guard_run(*net, test::guard_objectives(), test::guard_options(64, Device::cuda), prec);
  const ::testing::AssertionResult ok = test::reaches_95_percent(r, prec);
  std::printf("final objectives:%s\n", ok.message());  // the margin, for the record
  EXPECT_TRUE(ok);
  EXPECT_NE(r.reduced, r.fp32);
}

INSTANTIATE_TEST_SUITE_P(Precisions, PrecisionRenderGuardCuda, ::testing::Values(Precision::bf16, Precision::tf32),
                         [](const ::testing::TestParamInfo<Precision>& info) {
                           return std::string(precision_name(info.param));
                         });

}  // namespace
}  // namespace cuviz
