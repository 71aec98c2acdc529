// The render loop on CUDA against the CPU: 20 steps of the same seeded render (Fourier params,
// standard transforms, diversity, regularizers, a per-image objective list) on a small network.
// And the step replayed as a CUDA graph against the same step launched eagerly: the same kernels
// with the same arguments, so the same bits (small network and GoogLeNet, ReLU-override steps and
// checkpoints, a restart for a second batch, objectives that must stay eager).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../nn/reference_net.h"
#include "loaders/model.h"
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

// ---- CUDA graph replay vs eager launches ---------------------------------------------------------

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), size_t(a.numel()) * sizeof(float)) == 0;
}

struct GraphRun {
  RenderResult result;
  std::vector<OwnedTensor> checkpoints;  // the images handed to the progress callback
  bool graph_active = false;
};

// Renders with r (already made or restarted), keeping copies of the checkpoint images.
GraphRun run_loop(Renderer& r) {
  GraphRun out;
  out.result = render_loop(r, [&](const RenderProgress& p) {
    if (!p.images) return;
    out.checkpoints.emplace_back(p.images->shape());
    copy(*p.images, out.checkpoints.back());
  });
  out.graph_active = r.graph_active();
  return out;
}

void expect_identical(const GraphRun& graph, const GraphRun& eager) {
  EXPECT_TRUE(same_bits(graph.result.images, eager.result.images));
  EXPECT_EQ(graph.result.objective, eager.result.objective);
  EXPECT_EQ(graph.result.history_steps, eager.result.history_steps);
  EXPECT_EQ(graph.result.history, eager.result.history);
  ASSERT_EQ(graph.checkpoints.size(), eager.checkpoints.size());
  for (size_t k = 0; k < graph.checkpoints.size(); ++k)
    EXPECT_TRUE(same_bits(graph.checkpoints[k], eager.checkpoints[k])) << "checkpoint " << k;
}

RenderOptions graph_options(int size, int steps, int batch, int relu_override, std::vector<int> checkpoints) {
  RenderOptions o;
  o.size = size;
  o.steps = steps;
  o.batch = batch;
  o.seed = 11;
  o.progress_every = 5;
  o.relu_override_steps = relu_override;
  o.checkpoints = std::move(checkpoints);
  o.device = Device::cuda;
  return o;
}

GraphRun render_with(const Network& net, const std::vector<Objective>& obj, RenderOptions o, bool graph) {
  o.cuda_graph = graph;
  Renderer r(net, obj, o);
  return run_loop(r);
}

TEST(RenderCudaGraph, ReplayEqualsEagerLaunchesOnTheSmallNet) {
  CUVIZ_REQUIRE_GPU();
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  const Network net(std::move(g), Device::cuda);
  const std::vector<Objective> obj = {parse_objective("inc/output:3 - 0.25*tv"), parse_objective("deepdream(conv1)"),
                                      parse_objective("neuron(inc/output,6) - 2*diversity(conv1)")};
  const RenderOptions o = graph_options(32, 20, 3, 4, {3, 9, 20});
  const GraphRun graph = render_with(net, obj, o, true), eager = render_with(net, obj, o, false);
  EXPECT_TRUE(graph.graph_active) << "the steps after the ReLU override did not run as a graph";
  EXPECT_FALSE(eager.graph_active);
  expect_identical(graph, eager);
}

// Products of objectives read their values back every step (host sync): no graph, same result.
TEST(RenderCudaGraph, ObjectiveProductsStayEager) {
  CUVIZ_REQUIRE_GPU();
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  const Network net(std::move(g), Device::cuda);
  const std::vector<Objective> obj = {parse_objective("inc/output:3 * inc/output:6")};
  const RenderOptions o = graph_options(32, 12, 2, 0, {6});
  const GraphRun graph = render_with(net, obj, o, true), eager = render_with(net, obj, o, false);
  EXPECT_FALSE(graph.graph_active);
  expect_identical(graph, eager);
}

// A restart whose objectives fail to bind leaves the renderer unusable until the next restart;
// that failure must not count as a failed capture: after a good restart the steps replay again.
TEST(RenderCudaGraph, AFailedRestartKeepsTheGraph) {
  CUVIZ_REQUIRE_GPU();
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  const Network net(std::move(g), Device::cuda);
  const RenderOptions o = graph_options(32, 6, 2, 0, {3});
  Renderer r(net, {parse_objective("inc/output:3")}, o);
  EXPECT_THROW(r.restart({parse_objective("inc/output:100000")}), Error);  // channel out of range
  EXPECT_THROW(r.step(), Error);
  EXPECT_FALSE(r.graph_active());
  const std::vector<Objective> good = {parse_objective("inc/output:6")};
  r.restart(good);
  const GraphRun run = run_loop(r);
  EXPECT_TRUE(run.graph_active) << "the failed restart switched the graph off";
  expect_identical(run, render_with(net, good, o, false));
}

// GoogLeNet as a sweep runs it: ReLU override for the first steps, then replays; checkpoints in
// both phases; a restart for a second batch (the graph is captured again for its buffers) must
// equal both a fresh eager render of that batch and a fresh graph render of it.
TEST(RenderCudaGraph, ReplayEqualsEagerLaunchesOnGoogLeNetAcrossARestart) {
  CUVIZ_REQUIRE_GPU();
  Graph g;
  try {
    g = load_model(std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet");
  } catch (const Error& e) {
    GTEST_SKIP() << "googlenet weights not found: " << e.what();
  }
  const Network net(std::move(g), Device::cuda);
  const char* layer = "inception_4a/output";
  const std::vector<Objective> first = {channel(layer, 0), channel(layer, 97), channel(layer, 300)};
  const std::vector<Objective> second = {channel(layer, 5), channel(layer, 6), channel(layer, 6)};
  const RenderOptions o = graph_options(64, 24, 3, 16, {8, 20});

  RenderOptions on = o;
  Renderer r(net, first, on);
  const GraphRun graph_first = run_loop(r);
  EXPECT_TRUE(graph_first.graph_active);
  expect_identical(graph_first, render_with(net, first, o, false));

  r.restart(second);
  EXPECT_FALSE(r.graph_active()) << "a restart must drop the graph of the old buffers";
  const GraphRun graph_second = run_loop(r);
  EXPECT_TRUE(graph_second.graph_active);
  expect_identical(graph_second, render_with(net, second, o, false));
  expect_identical(graph_second, render_with(net, second, o, true));
}

}  // namespace
}  // namespace cuviz
