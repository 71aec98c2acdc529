// Network's backend setting and read-back on the CPU: a cudnn backend is refused with one clear
// line, a CPU forward runs nothing on the oracle, and read_activation copies a blob (a strided
// concat slice included) exactly.
#include <gtest/gtest.h>

#include "nn/network.h"
#include "reference_net.h"

namespace cuviz {

TEST(NetworkBackend, CudnnOnACpuNetworkIsRefusedAndLeavesNative) {
  Network net(test::small_net(), Device::cpu);
  EXPECT_EQ(net.backend(), Backend::native);
  try {
    net.set_backend(Backend::cudnn);
    FAIL() << "set_backend(cudnn) accepted on the CPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cudnn"), std::string::npos) << e.what();
  }
  EXPECT_EQ(net.backend(), Backend::native);
  net.set_backend(Backend::native);
  Plan p = net.plan(Shape{2, 3, 10, 10}, {"prob"});
  OwnedTensor x(p.input_shape());
  test::fill_uniform(x, 3);
  net.forward(p, x);
  EXPECT_GT(p.ops_run(), 0);
  EXPECT_EQ(p.oracle_ops_run(), 0);
}

TEST(NetworkBackend, ReadActivationCopiesExactlyAndChecksTheShape) {
  const Network net(test::small_net(), Device::cpu);
  Plan p = net.plan(Shape{2, 3, 10, 10}, {"prob", "inc/3x3", "inc/output"});
  OwnedTensor x(p.input_shape());
  test::fill_uniform(x, 4);
  net.forward(p, x);
  const Tensor branch = net.activation(p, "inc/3x3");
  ASSERT_FALSE(branch.contiguous()) << "the test wants a concat slice (a strided view)";
  OwnedTensor got(branch.shape());
  net.read_activation(p, "inc/3x3", got);
  EXPECT_TRUE(test::all_close(got, branch, 0.0));
  OwnedTensor wrong(Shape{1, 1, 1, 5});
  EXPECT_THROW(net.read_activation(p, "prob", wrong), Error);
}

}  // namespace cuviz
