// The render loop on CUDA against the CPU: 20 steps of the same seeded render (Fourier params,
// standard transforms, diversity, regularizers, a per-image objective list) on a small network.
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/reference_net.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/render.h"

namespace cuviz {
namespace {

RenderResult run(Device device, const std::vector<Objective>& obj, int relu_override) {
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  Network net(std::move(g), device);
  RenderOptions o;
  o.size = 32;
  o.steps = 20;
  o.batch = 3;
  o.seed = 4;
  o.progress_every = 5;
  o.relu_override_steps = relu_override;
  o.device = device;
  return render(net, obj, o);
}

void expect_same_render(const std::vector<Objective>& obj, int relu_override) {
  const RenderResult cpu = run(Device::cpu, obj, relu_override);
  const RenderResult gpu = run(Device::cuda, obj, relu_override);
  // Summation orders differ (blocked reductions, atomics in the seeds), ~1e-6 relative per step;
  // Adam divides by sqrt(v), which keeps such differences at their relative size over 20 steps,
  // so images agree to 1e-3 and objectives to 1e-3 relative.
  EXPECT_TRUE(test::all_close(gpu.images, cpu.images, 1e-3));
  ASSERT_EQ(gpu.objective.size(), cpu.objective.size());
  for (size_t i = 0; i < cpu.objective.size(); ++i)
    EXPECT_NEAR(gpu.objective[i], cpu.objective[i], 1e-3 * std::abs(cpu.objective[i]) + 1e-5) << "image " << i;
}

TEST(RenderCuda, MatchesTheCpuOnASharedObjective) {
  CUVIZ_REQUIRE_GPU();
  expect_same_render({parse_objective("inc/output:6 - 2*diversity(conv1) - 0.05*l1 - 0.25*tv")}, 0);
}

TEST(RenderCuda, MatchesTheCpuOnPerImageObjectivesWithReluOverride) {
  CUVIZ_REQUIRE_GPU();
  expect_same_render({parse_objective("inc/output:3"), parse_objective("deepdream(conv1) + logit:2"),
                      parse_objective("neuron(inc/output,6)")},
                     16);
}

}  // namespace
}  // namespace cuviz
