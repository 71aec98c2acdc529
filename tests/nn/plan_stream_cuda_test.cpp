// GPU plans on their own streams (nn/network.h): two plans of one network run interleaved and
// each matches the CPU; read_activation through the pinned staging buffer returns exactly the
// device values; a weight-gradient plan computes conv weight gradients from its arena's
// workspace (no allocation in backward) and matches the CPU.
#include <gtest/gtest.h>

#include "nn/network.h"
#include "reference_net.h"

namespace cuviz {

namespace {

OwnedTensor to_host(const Tensor& t) {
  OwnedTensor h(t.shape());
  copy(t, h);
  return h;
}

// As in network_cuda_test.cpp: CUDA kernels vs the CPU fast paths in float, different summation
// orders and FMA contraction, O(1) values through ~10 layers: 1e-4 absolute + 1e-3 relative.
constexpr double kAtol = 1e-4, kRtol = 1e-3;

}  // namespace

TEST(PlanStreamCuda, InterleavedPlansMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const Network cpu(test::small_net(), Device::cpu), gpu(test::small_net(), Device::cuda);
  const Shape a_shape{3, 3, 10, 10}, b_shape{2, 3, 12, 12};
  Plan ga = gpu.plan(a_shape, {"prob"}), gb = gpu.plan(b_shape, {"prob"});
  Plan ca = cpu.plan(a_shape, {"prob"}), cb = cpu.plan(b_shape, {"prob"});
  OwnedTensor xa(a_shape), xb(b_shape);
  test::fill_uniform(xa, 5);
  test::fill_uniform(xb, 6);
  for (int round = 0; round < 3; ++round) {  // queued on two streams, read back in turn
    gpu.forward(ga, xa);
    gpu.forward(gb, xb);
    OwnedTensor ya(gpu.activation(ga, "prob").shape()), yb(gpu.activation(gb, "prob").shape());
    gpu.read_activation(gb, "prob", yb);
    gpu.read_activation(ga, "prob", ya);
    cpu.forward(ca, xa);
    cpu.forward(cb, xb);
    EXPECT_TRUE(test::all_close(ya, cpu.activation(ca, "prob"), kAtol, kRtol)) << "round " << round;
    EXPECT_TRUE(test::all_close(yb, cpu.activation(cb, "prob"), kAtol, kRtol)) << "round " << round;
  }
}

TEST(PlanStreamCuda, ReadActivationThroughStagingIsExact) {
  CUVIZ_REQUIRE_GPU();
  const Network gpu(test::small_net(), Device::cuda);
  Plan p = gpu.plan(Shape{2, 3, 10, 10}, {"prob", "inc/3x3"});
  OwnedTensor x(p.input_shape());
  test::fill_uniform(x, 7);
  gpu.forward(p, x);
  for (const char* blob : {"prob", "inc/3x3", "norm1"}) {  // an output, a strided slice, an inner blob
    const Tensor y = gpu.activation(p, blob);
    OwnedTensor staged(y.shape());
    gpu.read_activation(p, blob, staged);
    EXPECT_TRUE(test::all_close(staged, to_host(y), 0.0)) << blob;
  }
}

TEST(PlanStreamCuda, ConvWeightGradientsFromTheWorkspaceMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const Network cpu(test::small_net(), Device::cpu), gpu(test::small_net(), Device::cuda);
  const Shape in{4, 3, 10, 10};
  Plan pc = cpu.plan(in, {"prob"}, PlanOptions{.weight_grads = true});
  Plan pg = gpu.plan(in, {"prob"}, PlanOptions{.weight_grads = true});
  EXPECT_GT(pg.arena_bytes(), pc.arena_bytes()) << "the GPU plan reserves the split-K workspace";
  OwnedTensor x(in), seed(Shape{4, 5, 1, 1});
  test::fill_uniform(x, 8);
  test::fill_uniform(seed, 9);
  cpu.forward(pc, x);
  gpu.forward(pg, x);
  copy(seed, cpu.activation_grad(pc, "prob"));
  copy(seed, gpu.activation_grad(pg, "prob"));
  cpu.backward(pc);
  gpu.backward(pg);
  for (const char* layer : {"conv1", "inc/3x3", "inc/5x5", "fc"})
    for (int i = 0; i < 2; ++i)
      EXPECT_TRUE(test::all_close(to_host(gpu.weight_grad(pg, layer, i)), cpu.weight_grad(pc, layer, i), kAtol, kRtol))
          << layer << " weight " << i;
}

}  // namespace cuviz
