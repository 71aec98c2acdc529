// The BF16/TF32 render guard on the CPU, where the reduced precisions are an emulation of the
// tensor cores' numerics (operands rounded, FP32 sums; kernels/conv2d.cpp): real GoogLeNet
// channels must reach >= 95% of the FP32 renders' mean objective (tests/viz/precision_guard.h).
// The same settings as the GPU version (64 steps), about 5 s per precision on 2 cores.
#include <cstdio>

#include "precision_guard.h"

namespace cuviz {
namespace {

class PrecisionRenderGuard : public ::testing::TestWithParam<Precision> {};

TEST_P(PrecisionRenderGuard, ReachesNinetyFivePercentOfFp32) {
  std::string why;
  const auto net = test::guard_network(Device::cpu, why);
  if (!net) GTEST_SKIP() << why;
  const Precision prec = GetParam();
  const auto r = test::precision_guard_run(*net, test::guard_objectives(), test::guard_options(64, Device::cpu), prec);
  const ::testing::AssertionResult ok = test::reaches_95_percent(r, prec);
  std::printf("final objectives:%s\n", ok.message());  // the margin, for the record
  EXPECT_TRUE(ok);
  // The emulation must actually change the arithmetic: identical objectives would mean the
  // precision never reached the convolutions.
  EXPECT_NE(r.reduced, r.fp32);
}

INSTANTIATE_TEST_SUITE_P(Precisions, PrecisionRenderGuard, ::testing::Values(Precision::bf16, Precision::tf32),
                         [](const ::testing::TestParamInfo<Precision>& info) {
                           return std::string(precision_name(info.param));
                         });

}  // namespace
}  // namespace cuviz
