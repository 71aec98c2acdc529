// core/profiler.h on the CPU: rows only while a profiler is installed, forward and backward of one
// name in one row, a range nested in a timed range not timed again (rows are leaves, so they add
// up), containers never timed, and the NVTX message ("fwd a.b" for "a/b").
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/profiler.h"

namespace cuviz {
namespace {

void busy(int ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
  }
}

TEST(Profiler, NothingIsRecordedWithoutAProfiler) {
  OpProfiler p(false);
  { CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::forward, "conv"); }
  EXPECT_TRUE(p.rows().empty());
  EXPECT_EQ(active_profiler(), nullptr);
}

TEST(Profiler, LeavesAreTimedOnceAndPhasesShareARow) {
  OpProfiler p(false);
  {
    const ProfilerScope scope(&p);
    EXPECT_EQ(active_profiler(), &p);
    CUVIZ_PROFILE_RANGE(ProfileStage::step, ProfilePhase::none, "step 0");  // a container
    {
      CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::forward, "inception/3x3");
      busy(20);
      CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::forward, "nested");  // inside a leaf: not a row
      busy(5);
    }
    {
      CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::backward, "inception/3x3");
      busy(10);
    }
  }
  EXPECT_EQ(active_profiler(), nullptr);
  p.finish();
  ASSERT_EQ(p.rows().size(), 1u) << "one row: the container and the nested range are not rows";
  const ProfileRow& r = p.rows()[0];
  EXPECT_EQ(r.name, "inception/3x3");
  EXPECT_EQ(r.forward_calls, 1);
  EXPECT_EQ(r.backward_calls, 1);
  EXPECT_GE(r.forward_ms, 25.0);  // the nested range's 5 ms counted in its parent, once
  EXPECT_GE(r.backward_ms, 10.0);
  EXPECT_LT(r.backward_ms, r.forward_ms);
  p.reset();
  EXPECT_TRUE(p.rows().empty());
}

TEST(Profiler, NvtxMessagesSayThePhaseAndHaveNoSlash) {
  EXPECT_EQ(nvtx_message(ProfilePhase::forward, "inception_4a/3x3"), "fwd inception_4a.3x3");
  EXPECT_EQ(nvtx_message(ProfilePhase::backward, "conv1/7x7_s2"), "bwd conv1.7x7_s2");
  EXPECT_EQ(nvtx_message(ProfilePhase::none, "forward"), "forward");
  EXPECT_STREQ(profile_stage_name(ProfileStage::optimizer), "optimizer");
}

}  // namespace
}  // namespace cuviz
