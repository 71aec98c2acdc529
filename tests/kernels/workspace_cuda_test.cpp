// Ops inside a plan's execution context (kernels/backend.h): the conv weight gradient takes its
// split-K partial sums from the context's workspace, sized by conv2d_backward_weight_cuda_workspace,
// and writes nothing past that size; the result is bitwise the one computed with pool memory.
// Runs on a GPU and under the host emulation (scripts/cuda-emulate.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/backend.h"
#include "kernels/conv2d.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

TEST(WorkspaceCuda, ConvWeightGradientStaysInsideThePlanWorkspace) {
  CUVIZ_REQUIRE_GPU();
  struct Case {
    Conv2dParams p;
    Shape x, w;
  };
  for (const Case& c : {Case{Conv2dParams::make(1, 1), Shape{3, 16, 14, 14}, Shape{32, 16, 3, 3}},
                        Case{Conv2dParams::make(2, 3), Shape{2, 3, 32, 32}, Shape{8, 3, 7, 7}},
                        Case{Conv2dParams::make(1, 0, 1, 4), Shape{2, 8, 9, 9}, Shape{8, 2, 1, 1}}}) {
    SCOPED_TRACE(c.w.str());
    const Shape y = conv2d_output_shape(c.p, c.x, c.w);
    const OwnedTensor x = test::to_device(test::random_tensor(c.x, 1));
    const OwnedTensor dy = test::to_device(test::random_tensor(y, 2));
    OwnedTensor dw_pool(c.w, Device::cuda), dw_plan(c.w, Device::cuda), db(Shape{1, c.w.n, 1, 1}, Device::cuda);
    conv2d_backward_weight(c.p, x, dy, dw_pool, db);  // no context: stream-ordered pool memory

    const size_t bytes = conv2d_backward_weight_cuda_workspace(c.p, c.x, c.w, y);
    ASSERT_GT(bytes, 0u);
    const int64_t floats = int64_t(bytes / sizeof(float)), guard = 1024;
    OwnedTensor workspace(Shape{1, 1, 1, int(floats + guard)}, Device::cuda);
    fill(workspace, NAN);
    cuda_rt::fill(workspace.data() + floats, guard, -7.f);
    {
      const ExecScope scope(ExecContext{Backend::native, nullptr, workspace.data(), bytes});
      conv2d_backward_weight(c.p, x, dy, dw_plan, db);
    }
    EXPECT_TRUE(test::all_close(test::to_host(dw_plan), test::to_host(dw_pool), 0.0));
    const OwnedTensor after = test::to_host(workspace);
    int64_t clobbered = 0;
    for (int64_t k = floats; k < floats + guard; ++k) clobbered += after.data()[k] != -7.f;
    EXPECT_EQ(clobbered, 0) << "written past the workspace size";
  }
}

}  // namespace cuviz
