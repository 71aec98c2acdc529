// The op-table driver on a GPU: every case of tests/kernels/op_cases.h through its nn/layer_ops.h
// entry on CUDA tensors against the same entry on the CPU (forward, data and weight gradients,
// plain and with the compact stash). Skipped without a device.
#include <iterator>

#include "core/cuda_runtime.h"
#include "tests/kernels/op_table_run.h"

namespace cuviz {

TEST(OpTableCuda, EveryCaseMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  int kinds_run[std::size(kLayerKinds)] = {};
  for (const test::OpCase& c : test::op_cases()) {
    for (bool stash : {false, true}) {
      SCOPED_TRACE(c.name + (stash ? " (stash)" : ""));
      const test::OpRun cpu = test::run_op(c, Device::cpu, stash), gpu = test::run_op(c, Device::cuda, stash);
      EXPECT_TRUE(test::all_close(gpu.y, cpu.y, c.atol, c.rtol)) << "forward";
      ASSERT_EQ(gpu.dx.size(), cpu.dx.size());
      for (size_t i = 0; i < cpu.dx.size(); ++i)
        EXPECT_TRUE(test::all_close(gpu.dx[i], cpu.dx[i], c.atol, c.rtol)) << "d input " << i;
      ASSERT_EQ(gpu.dw.size(), cpu.dw.size());
      for (size_t i = 0; i < cpu.dw.size(); ++i)
        EXPECT_TRUE(test::all_close(gpu.dw[i], cpu.dw[i], c.atol, c.rtol)) << "d weight " << i;
    }
    ++kinds_run[size_t(c.layer.kind)];
  }
  for (LayerKind k : kLayerKinds)
    EXPECT_GE(kinds_run[size_t(k)], 1) << layer_kind_name(k) << " ran no case on the GPU";
}

}  // namespace cuviz
