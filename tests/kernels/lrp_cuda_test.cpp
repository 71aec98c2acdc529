// The LRP element-wise maps (kernels/lrp.h) on CUDA against the CPU, into guarded strided outputs
// (a channel slice of a wider tensor): out-of-bounds writes and unwritten elements are caught.
// Runs on a GPU, or on the CPU emulation of the kernels (scripts/cuda-emulate.sh).
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/lrp.h"

namespace cuviz {

TEST(LrpKernelsCuda, EveryMapMatchesTheCpuOnStridedViews) {
  CUVIZ_REQUIRE_GPU();
  const Shape s{3, 5, 7, 6};
  const OwnedTensor r = test::random_tensor(s, 1, -2, 2), den = test::random_tensor(s, 2), z = test::random_tensor(s, 3);
  const OwnedTensor dr = test::to_device(r), dden = test::to_device(den), dz = test::to_device(z);
  OwnedTensor want(s);
  for (int sign : {-1, 0, 1}) {
    test::GuardedOutput y(s, 2);
    lrp_divide(dr, dden, dz, sign, 0.01f, y.view());
    lrp_divide(r, den, z, sign, 0.01f, want);
    EXPECT_TRUE(y.guards_intact());
    EXPECT_TRUE(test::gpu_matches("lrp_divide", test::to_host(y.view()), want, 1e-6, 1e-6, 1e-6)) << sign;
  }
  for (int sign : {-1, 1}) {
    test::GuardedOutput y(s, 1);
    lrp_clamp(dr, sign, y.view());
    lrp_clamp(r, sign, want);
    EXPECT_TRUE(y.guards_intact());
    EXPECT_TRUE(test::gpu_matches("lrp_clamp", test::to_host(y.view()), want, 0, 0));
  }
  for (bool accumulate : {false, true}) {
    test::GuardedOutput y(s, 3);
    copy(z, y.view());
    copy(z, want);
    lrp_multiply(dr, dden, -1.5f, accumulate, y.view());
    lrp_multiply(r, den, -1.5f, accumulate, want);
    EXPECT_TRUE(y.guards_intact());
    EXPECT_TRUE(test::gpu_matches("lrp_multiply", test::to_host(y.view()), want, 1e-6, 1e-6, 1e-6)) << accumulate;
  }
  test::GuardedOutput y(s, 1);
  copy(z, y.view());
  copy(z, want);
  lrp_axpy(0.75f, dr, y.view());
  lrp_axpy(0.75f, r, want);
  EXPECT_TRUE(y.guards_intact());
  EXPECT_TRUE(test::gpu_matches("lrp_axpy", test::to_host(y.view()), want, 1e-6, 1e-6, 1e-6));
}

}  // namespace cuviz
