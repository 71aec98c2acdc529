// nn/Network on a CUDA device against the same network on the CPU: every activation of a
// forward pass and the input gradient of a multi-seed backward (strided concat slices, fused
// ReLUs, fan-out accumulation through the add kernel) on a batch of 3.
#include "kernels/add.h"
#include "nn/network.h"

#include "reference_net.h"

namespace cuviz {

namespace {

OwnedTensor to_host(const Tensor& t) {
  OwnedTensor h(t.shape());
  copy(t, h);
  return h;
}

// CUDA kernels vs the CPU fast paths in float: different summation orders and FMA contraction,
// O(1) values through ~10 layers, so a few ulps per op: 1e-4 absolute + 1e-3 relative.
constexpr double kAtol = 1e-4, kRtol = 1e-3;

}  // namespace

TEST(NetworkCuda, ForwardAndBackwardMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  Network cpu(test::small_net(), Device::cpu), gpu(test::small_net(), Device::cuda);
  EXPECT_EQ(gpu.weight("conv1", 0).device(), Device::cuda);
  const std::vector<std::string> blobs = {"conv1", "norm1", "inc/3x3", "inc/output", "res", "prob"};
  const Shape in{3, 3, 10, 10};
  Plan pc = cpu.plan(in, blobs, PlanOptions{.backward = true});
  Plan pg = gpu.plan(in, blobs, PlanOptions{.backward = true});
  OwnedTensor x(in);
  test::fill_uniform(x, 1);
  cpu.forward(pc, x);
  gpu.forward(pg, x);  // host input, copied to the device by forward
  for (const auto& b : blobs)
    EXPECT_TRUE(test::all_close(to_host(gpu.activation(pg, b)), cpu.activation(pc, b), kAtol, kRtol)) << b;

  uint64_t seed = 2;
  for (const char* b : {"prob", "inc/output", "inc/3x3", "norm1"}) {
    OwnedTensor w(cpu.activation(pc, b).shape());
    test::fill_uniform(w, seed++);
    OwnedTensor wd(w.shape(), Device::cuda);
    copy(w, wd);
    const Tensor dc = cpu.activation_grad(pc, b), dg = gpu.activation_grad(pg, b);
    add_forward(dc, w, dc);
    add_forward(dg, wd, dg);
  }
  OwnedTensor dxc(in), dxg(in, Device::cuda);
  cpu.backward_to_input(pc, dxc);
  gpu.backward_to_input(pg, dxg);
  EXPECT_TRUE(test::all_close(to_host(dxg), dxc, kAtol, kRtol));
}

}  // namespace cuviz
