// The backend choice of GPU ops (kernels/backend.h): parsing, the errors for a cudnn backend that
// cannot run, the thread's execution context and its scopes, the oracle dispatch decision, and
// which parameters the cuDNN oracle expresses exactly. All of it is host logic: no GPU needed.
#include "kernels/backend.h"

#include <gtest/gtest.h>

#include <thread>

#include "kernels/cudnn_oracle.h"
#include "kernels/pool2d.h"
#include "test_util.h"

namespace cuviz {

namespace {

using test::error_of;

}  // namespace

TEST(Backend, ParsesItsTwoNamesAndListsThemOtherwise) {
  EXPECT_EQ(parse_backend("native"), Backend::native);
  EXPECT_EQ(parse_backend("cudnn"), Backend::cudnn);
  EXPECT_STREQ(backend_name(Backend::cudnn), "cudnn");
  const std::string e = error_of([] { parse_backend("cuDNN "); });
  EXPECT_NE(e.find("'cuDNN '"), std::string::npos) << e;
  EXPECT_NE(e.find("native, cudnn"), std::string::npos) << e;
}

TEST(Backend, CudnnOnTheCpuIsAClearError) {
  EXPECT_EQ(error_of([] { check_backend(Backend::native, Device::cpu); }), "(no error)");
  const std::string e = error_of([] { check_backend(Backend::cudnn, Device::cpu); });
  ASSERT_NE(e, "");
  EXPECT_NE(e.find(CUVIZ_HAS_CUDA ? "needs a CUDA device" : "built without CUDA"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line: " << e;
}

TEST(Backend, CudnnWithoutAnyUsableCudnnIsAnError) {
  if (cudnn_oracle_available()) GTEST_SKIP() << "cuDNN is usable here";
  EXPECT_NE(error_of([] { check_backend(Backend::cudnn, Device::cuda); }), "(no error)");
}

TEST(ExecContext, ScopesNestAndRestore) {
  EXPECT_EQ(exec_context().backend, Backend::native);
  EXPECT_EQ(exec_context().stream, nullptr);
  int token = 0;
  {
    const ExecScope outer(ExecContext{Backend::cudnn, &token, nullptr, 0});
    EXPECT_EQ(exec_context().backend, Backend::cudnn);
    EXPECT_EQ(exec_context().stream, &token);
    {
      const ExecScope inner(ExecContext{});
      EXPECT_EQ(exec_context().backend, Backend::native);
      EXPECT_EQ(exec_context().stream, nullptr);
    }
    EXPECT_EQ(exec_context().stream, &token);
  }
  EXPECT_EQ(exec_context().backend, Backend::native);
  EXPECT_EQ(exec_context().stream, nullptr);
}

TEST(ExecContext, BelongsToTheThread) {
  const ExecScope scope(ExecContext{Backend::cudnn, nullptr, nullptr, 0});
  Backend seen = Backend::cudnn;
  std::thread([&] { seen = exec_context().backend; }).join();
  EXPECT_EQ(seen, Backend::native);
}

TEST(ExecContext, OracleOnlyForExpressibleGpuOpsUnderCudnn) {
  const int64_t before = oracle_ops_count();
  EXPECT_FALSE(use_oracle(Device::cuda, true));  // native backend
  {
    const ExecScope scope(ExecContext{Backend::cudnn, nullptr, nullptr, 0});
    EXPECT_FALSE(use_oracle(Device::cpu, true));   // CPU ops never go to the oracle
    EXPECT_FALSE(use_oracle(Device::cuda, false));  // not expressible: the native kernel
    EXPECT_TRUE(use_oracle(Device::cuda, true));
  }
  EXPECT_EQ(oracle_ops_count() - before, 1);
}

TEST(CudnnExpresses, SymmetricConvolutionsOnly) {
  EXPECT_TRUE(cudnn_expresses(Conv2dParams::make(2, 3)));
  Conv2dParams p = Conv2dParams::make(1, 1);
  p.pad_bottom = 2;
  EXPECT_FALSE(cudnn_expresses(p));
}

TEST(CudnnExpresses, PoolsWhoseFloorSizeIsTheOutput) {
  // GoogLeNet's pool1/3x3_s2: ceil mode, 112 -> 56; cuDNN's floor mode gives 55.
  const Pool2dParams ceil_pool = Pool2dParams::make(PoolMode::max, 3, 2, 0, true);
  const Shape x{1, 64, 112, 112};
  EXPECT_FALSE(cudnn_expresses(ceil_pool, x, pool2d_output_shape(ceil_pool, x)));
  // The same pool on 113 rows: ceil and floor agree (56), so cuDNN computes it.
  const Shape x_odd{1, 64, 113, 113};
  EXPECT_TRUE(cudnn_expresses(ceil_pool, x_odd, pool2d_output_shape(ceil_pool, x_odd)));
  // Inception's 3x3 stride-1 pad-1 pools.
  const Pool2dParams inc = Pool2dParams::make(PoolMode::max, 3, 1, 1, true);
  EXPECT_TRUE(cudnn_expresses(inc, Shape{1, 192, 28, 28}, pool2d_output_shape(inc, Shape{1, 192, 28, 28})));
  Pool2dParams dilated = inc;
  dilated.dilation_h = dilated.dilation_w = 2;
  EXPECT_FALSE(cudnn_expresses(dilated, Shape{1, 8, 28, 28}, pool2d_output_shape(dilated, Shape{1, 8, 28, 28})));
}

TEST(CudnnExpresses, LrnWindowsOfOddSizeUpTo15) {
  EXPECT_TRUE(cudnn_expresses(LrnParams{5, 1e-4f, 0.75f, 1.f}));
  EXPECT_FALSE(cudnn_expresses(LrnParams{4, 1e-4f, 0.75f, 1.f}));
  EXPECT_FALSE(cudnn_expresses(LrnParams{17, 1e-4f, 0.75f, 1.f}));
  EXPECT_FALSE(cudnn_expresses(LrnParams{5, 1e-4f, 0.75f, 0.f}));  // cuDNN needs k >= 1e-5
}

}  // namespace cuviz
