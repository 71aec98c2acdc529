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
      test::expect_run_close(test::run_op(c, Device::cuda, stash), test::run_op(c, Device::cpu, stash), c.atol,
                             c.rtol);
    }
    ++kinds_run[size_t(c.layer.kind)];
  }
  for (LayerKind k : kLayerKinds)
    EXPECT_GE(kinds_run[size_t(k)], 1) << layer_kind_name(k) << " ran no case on the GPU";
}

}  // namespace cuviz
