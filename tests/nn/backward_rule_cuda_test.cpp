// Backward rules and gradient taps on a CUDA device against the CPU: guided backprop and Lucid's
// redirect on the three-unit net (the hand-worked answers of backward_rule_test.cpp, exact in
// small integers), a doubled
// conv backward, a rule reading a conv's input in the GPU's compact plan, taps on small_net and on
// the real GoogLeNet, and a forward + rules + taps + backward captured as one CUDA graph and
// replayed (rules and taps launch kernels and copies only: no host synchronisation).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/cuda_runtime.h"
#include "io/npy.h"
#include "loaders/caffe_loader.h"
#include "nn/network.h"
#include "backward_rule_util.h"
#include "reference_net.h"

namespace cuviz {

namespace {

using test::bitwise_equal;
using test::DoubleConvRule;
using test::InputEchoRule;

OwnedTensor to_host(const Tensor& t) {
  OwnedTensor h(t.shape());
  copy(t, h);
  return h;
}

OwnedTensor to_device(const Tensor& t) {
  OwnedTensor d(t.shape(), Device::cuda);
  copy(t, d);
  return d;
}

// As in network_cuda_test.cpp: CUDA kernels vs the CPU fast paths in float, different summation
// orders and FMA contraction, O(1) values through ~10 layers: 1e-4 absolute + 1e-3 relative.
constexpr double kAtol = 1e-4, kRtol = 1e-3;

std::vector<float> three_unit_dx_gpu(const std::vector<float>& x, Stash stash, bool guided, bool redirect) {
  const Network net(test::three_unit_net(), Device::cuda);
  PlanOptions o{.backward = true, .stash = stash};
  if (guided) o.backward_rules = {guided_relu_rule()};
  Plan p = net.plan(Shape{1, 3, 1, 1}, {"out"}, o);
  p.set_relu_gradient_override(redirect);
  OwnedTensor xt(Shape{1, 3, 1, 1}), dx(xt.shape());
  std::copy(x.begin(), x.end(), xt.data());
  net.forward(p, xt);
  fill(net.activation_grad(p, "out"), 1.f);
  net.backward_to_input(p, dx);
  return std::vector<float>(dx.data(), dx.data() + 3);
}

// dx of `plan` for input x and a seed on `out`, on the host.
OwnedTensor input_gradient(const Network& net, Plan& p, const Tensor& x, const char* out, uint64_t seed) {
  net.forward(p, x);
  const Tensor d = net.activation_grad(p, out);
  OwnedTensor s(d.shape());
  test::fill_uniform(s, seed);
  copy(s, d);
  OwnedTensor dx(x.shape());
  net.backward_to_input(p, dx);
  return dx;
}

}  // namespace

TEST(BackwardRuleCuda, GuidedAndRedirectedReluGiveTheHandComputedAnswers) {
  CUVIZ_REQUIRE_GPU();
  for (Stash stash : {Stash::full, Stash::compact}) {
    EXPECT_EQ(three_unit_dx_gpu({1, 2, 3}, stash, false, false), (std::vector<float>{1, 2, -1}));
    EXPECT_EQ(three_unit_dx_gpu({1, 2, 3}, stash, true, false), (std::vector<float>{2, 2, 0}));
    EXPECT_EQ(three_unit_dx_gpu({-1, -1, -1}, stash, false, false), (std::vector<float>{0, 0, 0}));
    EXPECT_EQ(three_unit_dx_gpu({-1, -1, -1}, stash, false, true), (std::vector<float>{-1, 0, -1}));
  }
}

TEST(BackwardRuleCuda, RulesMatchTheCpuAndDoublingIsExact) {
  CUVIZ_REQUIRE_GPU();
  const Network cpu(test::small_net(), Device::cpu), gpu(test::small_net(), Device::cuda);
  const Shape in{3, 3, 10, 10};
  OwnedTensor x(in);
  test::fill_uniform(x, 21);
  for (Stash stash : {Stash::full, Stash::compact}) {
    auto options = [&](std::shared_ptr<const BackwardRule> r) {
      PlanOptions o{.backward = true, .stash = stash};
      if (r) o.backward_rules = {std::move(r)};
      return o;
    };
    for (auto rule : {std::shared_ptr<const BackwardRule>(std::make_shared<DoubleConvRule>(std::vector<std::string>{"conv1"})),
                      guided_relu_rule(), deconvnet_relu_rule()}) {
      Plan pc = cpu.plan(in, {"prob"}, options(rule)), pg = gpu.plan(in, {"prob"}, options(rule));
      const OwnedTensor dc = input_gradient(cpu, pc, x, "prob", 22), dg = input_gradient(gpu, pg, x, "prob", 22);
      EXPECT_TRUE(test::all_close(dg, dc, kAtol, kRtol)) << rule->name() << ", stash " << int(stash);
    }
    Plan plain = gpu.plan(in, {"prob"}, options(nullptr));
    Plan doubled = gpu.plan(in, {"prob"}, options(std::make_shared<DoubleConvRule>(std::vector<std::string>{"conv1"})));
    const OwnedTensor want = input_gradient(gpu, plain, x, "prob", 23);
    OwnedTensor twice(in);
    add_forward(want, want, twice);
    EXPECT_TRUE(bitwise_equal(input_gradient(gpu, doubled, x, "prob", 23), twice)) << "stash " << int(stash);
    Plan redirected = gpu.plan(in, {"prob"}, options(nullptr));
    redirected.set_relu_gradient_override(true);
    Plan redirected_cpu = cpu.plan(in, {"prob"}, options(nullptr));
    redirected_cpu.set_relu_gradient_override(true);
    EXPECT_TRUE(test::all_close(input_gradient(gpu, redirected, x, "prob", 24),
                                input_gradient(cpu, redirected_cpu, x, "prob", 24), kAtol, kRtol));
  }
}

TEST(BackwardRuleCuda, RuleReadingAConvInputAndTapsInTheCompactPlan) {
  CUVIZ_REQUIRE_GPU();
  const Network cpu(test::small_net(), Device::cpu), gpu(test::small_net(), Device::cuda);
  const Shape in{2, 3, 10, 10};
  OwnedTensor x(in);
  test::fill_uniform(x, 25);
  PlanOptions o{.backward = true};  // automatic: compact on the GPU
  o.backward_rules = {std::make_shared<InputEchoRule>("inc/3x3")};
  o.grad_taps = {"inc/3x3_reduce", "inc/output", "inc/3x3", "conv1:pre", "data"};
  Plan pg = gpu.plan(in, {"prob"}, o), pc = cpu.plan(in, {"prob"}, o);
  const OwnedTensor dg = input_gradient(gpu, pg, x, "prob", 26), dc = input_gradient(cpu, pc, x, "prob", 26);
  EXPECT_TRUE(bitwise_equal(to_host(gpu.tapped_grad(pg, "inc/3x3_reduce")),
                            to_host(gpu.activation(pg, "inc/3x3_reduce"))));
  for (const char* t : {"inc/3x3_reduce", "inc/output", "inc/3x3", "conv1:pre", "data"})
    EXPECT_TRUE(test::all_close(to_host(gpu.tapped_grad(pg, t)), cpu.tapped_grad(pc, t), kAtol, kRtol)) << t;
  EXPECT_TRUE(bitwise_equal(to_host(gpu.tapped_grad(pg, "data")), dg));
  EXPECT_TRUE(test::all_close(dg, dc, kAtol, kRtol));
}

// Forward, seed, backward with a rule and taps, captured once on the plan's stream and replayed:
// the replay refills the taps (cleared in between) with exactly the eager values.
TEST(BackwardRuleCuda, RulesAndTapsReplayInACapturedCudaGraph) {
  CUVIZ_REQUIRE_GPU();
  const Network gpu(test::small_net(), Device::cuda);
  const Shape in{2, 3, 10, 10};
  OwnedTensor xh(in);
  test::fill_uniform(xh, 27);
  const OwnedTensor x = to_device(xh);
  PlanOptions o{.backward = true, .backward_rules = {guided_relu_rule()}};
  o.grad_taps = {"inc/output", "data"};
  Plan p = gpu.plan(in, {"prob"}, o);
  OwnedTensor seed_h(Shape{2, 5, 1, 1});
  test::fill_uniform(seed_h, 28);
  const OwnedTensor seed = to_device(seed_h);
  auto step = [&] {
    gpu.forward(p, x);
    {
      const ExecScope scope(gpu.context_of(p));
      copy(seed, gpu.activation_grad(p, "prob"));
    }
    gpu.backward(p);
  };
  step();
  const OwnedTensor eager_out = to_host(gpu.tapped_grad(p, "inc/output")), eager_in = to_host(gpu.tapped_grad(p, "data"));
  void* stream = gpu.context_of(p).stream;
  cuda_rt::CudaGraph graph;
  graph.begin_capture(stream);
  try {
    step();
  } catch (...) {
    cuda_rt::CudaGraph::abandon_capture(stream);
    throw;
  }
  ASSERT_EQ(graph.end_capture(stream), "");
  fill(gpu.tapped_grad(p, "inc/output"), 0.f);
  fill(gpu.tapped_grad(p, "data"), 0.f);
  graph.launch(stream);
  cuda_rt::stream_synchronize(stream);
  EXPECT_TRUE(bitwise_equal(to_host(gpu.tapped_grad(p, "inc/output")), eager_out));
  EXPECT_TRUE(bitwise_equal(to_host(gpu.tapped_grad(p, "data")), eager_in));
}

// GoogLeNet's inception_4c/output gradient from loss3/classifier, GPU (compact) vs CPU, normalised
// as in googlenet_cuda_test.cpp (same reasoning, same 1e-4).
TEST(BackwardRuleCuda, GoogLeNetTapMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const std::string dir = std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet";
  if (!std::filesystem::exists(dir + "/bvlc_googlenet.caffemodel")) GTEST_SKIP() << "no BVLC GoogLeNet in " << dir;
  const Network cpu(load_caffe(dir + "/deploy.prototxt", dir + "/bvlc_googlenet.caffemodel"), Device::cpu);
  const Network gpu(load_caffe(dir + "/deploy.prototxt", dir + "/bvlc_googlenet.caffemodel"), Device::cuda);
  const OwnedTensor x =
      read_npy_tensor(std::string(CUVIZ_SHARED_DIR) + "/weights/reference/bvlc_googlenet_chelsea_input.npy");
  const char* tap = "inception_4c/output";
  PlanOptions o{.backward = true};
  o.grad_taps = {tap};
  Plan pc = cpu.plan(x.shape(), {"loss3/classifier"}, o), pg = gpu.plan(x.shape(), {"loss3/classifier"}, o);
  input_gradient(cpu, pc, x, "loss3/classifier", 29);
  input_gradient(gpu, pg, x, "loss3/classifier", 29);
  const double error = test::normalised_error(to_host(gpu.tapped_grad(pg, tap)), cpu.tapped_grad(pc, tap));
  std::printf("inception_4c/output gradient: normalised error %.3e GPU vs CPU\n", error);
  EXPECT_LT(error, 1e-4);
}

}  // namespace cuviz
