// CUDA kernels of pooling, LRN, softmax / log-softmax, batch norm, concat, dropout, ReLU and linear
// against the CPU references (double precision where the GPU rounds differently, float where it
// computes the same sums in the same order), and against cuDNN / cuBLAS where available.
// Outputs are guarded (sentinels around, NaN inside); several are batch-strided views.
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/concat.h"
#include "kernels/cudnn_oracle.h"
#include "kernels/dropout.h"
#include "kernels/linear.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "kernels/softmax.h"

#include "cuda_test_util.h"

namespace cuviz {
namespace {

// ---- pooling ----------------------------------------------------------------------------------

struct PoolCase {
  const char* name;
  Shape x;
  Pool2dParams p;
};

Pool2dParams pool(PoolMode m, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, int d, bool ceil,
                  bool include_pad = true, bool global = false) {
  Pool2dParams p;
  p.mode = m;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_top = pt;
  p.pad_left = pl;
  p.pad_bottom = pb;
  p.pad_right = pr;
  p.dilation_h = p.dilation_w = d;
  p.ceil_mode = ceil;
  p.count_include_pad = include_pad;
  p.global = global;
  return p;
}

const PoolCase kPoolCases[] = {
    {"max3_s2_ceil_googlenet", {2, 5, 57, 57}, pool(PoolMode::max, 3, 3, 2, 2, 0, 0, 0, 0, 1, true)},
    {"max3_s1_pad1", {3, 4, 14, 13}, pool(PoolMode::max, 3, 3, 1, 1, 1, 1, 1, 1, 1, false)},
    {"max2_s2_floor_odd", {2, 3, 15, 11}, pool(PoolMode::max, 2, 2, 2, 2, 0, 0, 0, 0, 1, false)},
    {"max3_dilation2_asym", {2, 3, 17, 16}, pool(PoolMode::max, 3, 3, 2, 1, 1, 0, 2, 1, 2, false)},
    {"avg5_s3_aux", {2, 6, 14, 14}, pool(PoolMode::average, 5, 5, 3, 3, 0, 0, 0, 0, 1, false)},
    {"avg3_s2_pad1_ceil", {2, 4, 12, 9}, pool(PoolMode::average, 3, 3, 2, 2, 1, 1, 1, 1, 1, true)},
    {"avg3_exclude_pad", {1, 4, 10, 11}, pool(PoolMode::average, 3, 3, 2, 2, 1, 1, 1, 1, 1, false, false)},
    {"avg7_s1_googlenet", {3, 8, 7, 7}, pool(PoolMode::average, 7, 7, 1, 1, 0, 0, 0, 0, 1, false)},
    {"global_avg", {2, 9, 6, 5}, pool(PoolMode::average, 1, 1, 1, 1, 0, 0, 0, 0, 1, false, true, true)},
    {"global_max", {2, 9, 6, 5}, pool(PoolMode::max, 1, 1, 1, 1, 0, 0, 0, 0, 1, false, true, true)},
};

class Pool2dCuda : public ::testing::TestWithParam<PoolCase> {};

// The GPU walks every window's taps and every dx element's windows in the CPU loop's order, so
// max pooling (pure selection and routing) must match bitwise; averages share the order of the
// additions and the IEEE division, leaving 1e-6 for a possible contraction of a / count.
TEST_P(Pool2dCuda, MatchesReferenceBothDirections) {
  CUVIZ_REQUIRE_GPU();
  const PoolCase& tc = GetParam();
  const bool is_max = tc.p.mode == PoolMode::max;
  const double tol = is_max ? 0.0 : 1e-6;
  const Shape ys = pool2d_output_shape(tc.p, tc.x);
  // Quantised inputs create ties, so max routing to the first maximum is exercised.
  OwnedTensor x = test::random_tensor(tc.x, 21);
  for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] = std::round(x.data()[k] * 8.f) / 8.f;
  const OwnedTensor dy = test::random_tensor(ys, 22);
  OwnedTensor y_ref(ys), dx_ref(tc.x);
  pool2d_forward_reference<float>(tc.p, x, y_ref);
  pool2d_backward_data_reference<float>(tc.p, x, y_ref, dy, dx_ref);

  const OwnedTensor x_dev = test::to_device(x), dy_dev = test::to_device(dy);
  test::GuardedOutput y(ys, 2);
  pool2d_forward(tc.p, x_dev, y.view());
  EXPECT_TRUE(y.guards_intact());
  const OwnedTensor y_host = test::to_host(y.view());
  EXPECT_TRUE(test::gpu_matches("forward", y_host, y_ref, tol, tol));

  test::GuardedOutput dx(tc.x, 1);
  pool2d_backward_data(tc.p, x_dev, y.view(), dy_dev, dx.view());
  EXPECT_TRUE(dx.guards_intact());
  EXPECT_TRUE(test::gpu_matches("backward-data", test::to_host(dx.view()), dx_ref, tol, tol));

  const bool cudnn_ok = cudnn_oracle_available() && !tc.p.ceil_mode && tc.p.dilation_h == 1 &&
                        tc.p.pad_top == tc.p.pad_bottom && tc.p.pad_left == tc.p.pad_right;
  if (!cudnn_ok) return;
  OwnedTensor y_cudnn(ys, Device::cuda);
  cudnn_pool2d_forward(tc.p, x_dev, y_cudnn);
  // cuDNN sums a window in its own order: 1e-6 for averages of values in [-1, 1].
  EXPECT_TRUE(test::gpu_matches("forward vs cuDNN", y_host, test::to_host(y_cudnn), 1e-6, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Shapes, Pool2dCuda, ::testing::ValuesIn(kPoolCases),
                         [](const ::testing::TestParamInfo<PoolCase>& info) { return std::string(info.param.name); });

// ---- LRN --------------------------------------------------------------------------------------

struct LrnCase {
  const char* name;
  Shape x;
  LrnParams p;
};

const LrnCase kLrnCases[] = {
    {"googlenet_size5", {2, 64, 9, 7}, LrnParams{5, 1e-4f, 0.75f, 1.f}},
    {"strong_size3", {3, 7, 5, 6}, LrnParams{3, 0.5f, 0.75f, 2.f}},
    {"even_size4", {2, 9, 4, 5}, LrnParams{4, 0.8f, 0.6f, 1.5f}},
    {"window_wider_than_channels", {1, 3, 5, 5}, LrnParams{7, 0.3f, 0.9f, 1.f}},
};

class LrnCuda : public ::testing::TestWithParam<LrnCase> {};

// powf and the window sums round in float: a few ulps per element, 1e-6 normalised and 1e-5
// per element (values of order 1) cover them; a wrong window would be off by ~1e-1.
TEST_P(LrnCuda, MatchesDoubleReferenceInPlaceToo) {
  CUVIZ_REQUIRE_GPU();
  const LrnCase& tc = GetParam();
  const OwnedTensor x = test::random_tensor(tc.x, 31, -2.0, 2.0), dy = test::random_tensor(tc.x, 32);
  const OwnedTensorD xd = test::to_double(x), dyd = test::to_double(dy);
  OwnedTensorD y_ref(tc.x), dx_ref(tc.x);
  lrn_forward_reference<double>(tc.p, xd, y_ref);
  lrn_backward_data_reference<double>(tc.p, xd, y_ref, dyd, dx_ref);

  const OwnedTensor x_dev = test::to_device(x), dy_dev = test::to_device(dy);
  test::GuardedOutput y(tc.x, 3);
  lrn_forward(tc.p, x_dev, y.view());
  EXPECT_TRUE(y.guards_intact());
  const OwnedTensor y_host = test::to_host(y.view());
  EXPECT_TRUE(test::gpu_matches("forward", y_host, y_ref, 1e-6, 1e-5, 1e-5));

  test::GuardedOutput dx(tc.x, 1);
  lrn_backward_data(tc.p, x_dev, y.view(), dy_dev, dx.view());
  EXPECT_TRUE(dx.guards_intact());
  const OwnedTensor dx_host = test::to_host(dx.view());
  EXPECT_TRUE(test::gpu_matches("backward-data", dx_host, dx_ref, 1e-6, 1e-5, 1e-5));

  // In place: y = x and dx = dy must give the out-of-place results exactly.
  const OwnedTensor xi = test::to_device(x), dyi = test::to_device(dy);
  lrn_forward(tc.p, xi, xi);
  EXPECT_TRUE(test::all_close(test::to_host(xi), y_host, 0.0));
  lrn_backward_data(tc.p, x_dev, xi, dyi, dyi);
  EXPECT_TRUE(test::all_close(test::to_host(dyi), dx_host, 0.0));

  // cuDNN centres even windows its own way: compare odd sizes only.
  if (!cudnn_oracle_available() || tc.p.size > 16 || tc.p.size % 2 == 0) return;
  OwnedTensor y_cudnn(tc.x, Device::cuda);
  cudnn_lrn_forward(tc.p, x_dev, y_cudnn);
  EXPECT_TRUE(test::gpu_matches("forward vs cuDNN", y_host, test::to_host(y_cudnn), 2e-6, 2e-5, 2e-5));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LrnCuda, ::testing::ValuesIn(kLrnCases),
                         [](const ::testing::TestParamInfo<LrnCase>& info) { return std::string(info.param.name); });

// ---- softmax ----------------------------------------------------------------------------------

class SoftmaxCuda : public ::testing::TestWithParam<Shape> {};

// expf/logf are within 2 ulps and the sums run over at most 1000 terms: 1e-6 normalised, and
// per element 1e-6 + 1e-5 relative (probabilities) or 1e-5 absolute (log-probabilities ~ -10).
TEST_P(SoftmaxCuda, BothVariantsMatchDoubleReferenceInPlaceToo) {
  CUVIZ_REQUIRE_GPU();
  const Shape s = GetParam();
  // Logits up to +-20 exercise the max shift (exp(20) alone would lose digits unshifted).
  const OwnedTensor x = test::random_tensor(s, 41, -20.0, 20.0), dy = test::random_tensor(s, 42);
  const OwnedTensorD xd = test::to_double(x), dyd = test::to_double(dy);
  for (bool log : {false, true}) {
    SCOPED_TRACE(log ? "log_softmax" : "softmax");
    OwnedTensorD y_ref(s), dx_ref(s);
    if (log) {
      log_softmax_forward_reference<double>(xd, y_ref);
      log_softmax_backward_data_reference<double>(y_ref, dyd, dx_ref);
    } else {
      softmax_forward_reference<double>(xd, y_ref);
      softmax_backward_data_reference<double>(y_ref, dyd, dx_ref);
    }
    const OwnedTensor x_dev = test::to_device(x), dy_dev = test::to_device(dy);
    test::GuardedOutput y(s, 2);
    (log ? log_softmax_forward : softmax_forward)(x_dev, y.view());
    EXPECT_TRUE(y.guards_intact());
    const OwnedTensor y_host = test::to_host(y.view());
    const double atol = log ? 1e-5 : 1e-6;
    EXPECT_TRUE(test::gpu_matches("forward", y_host, y_ref, 1e-6, atol, 1e-5));

    test::GuardedOutput dx(s, 1);
    (log ? log_softmax_backward_data : softmax_backward_data)(y.view(), dy_dev, dx.view());
    EXPECT_TRUE(dx.guards_intact());
    const OwnedTensor dx_host = test::to_host(dx.view());
    EXPECT_TRUE(test::gpu_matches("backward-data", dx_host, dx_ref, 1e-5, 1e-5, 1e-5));

    // In place: the same results exactly.
    (log ? log_softmax_forward : softmax_forward)(x_dev, x_dev);
    EXPECT_TRUE(test::all_close(test::to_host(x_dev), y_host, 0.0));
    (log ? log_softmax_backward_data : softmax_backward_data)(x_dev, dy_dev, dy_dev);
    EXPECT_TRUE(test::all_close(test::to_host(dy_dev), dx_host, 0.0));

    if (!cudnn_oracle_available()) continue;
    const OwnedTensor x_fresh = test::to_device(x);
    OwnedTensor y_cudnn(s, Device::cuda);
    cudnn_softmax_forward(x_fresh, y_cudnn, log);
    EXPECT_TRUE(test::gpu_matches("forward vs cuDNN", y_host, test::to_host(y_cudnn), 2e-6, 2 * atol, 2e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, SoftmaxCuda,
                         ::testing::Values(Shape{3, 10, 7, 5}, Shape{4, 1000, 1, 1}, Shape{2, 1, 3, 3},
                                           Shape{1, 37, 13, 1}));

// ---- batch norm -------------------------------------------------------------------------------

// a_c = scale / sqrt(var + eps) rounds once more than the double formula: 1e-6 relative.
TEST(BatchNormCuda, ForwardAndBackwardMatchReference) {
  CUVIZ_REQUIRE_GPU();
  const Shape s{3, 13, 7, 9}, cs{1, 13, 1, 1};
  const OwnedTensor x = test::random_tensor(s, 51, -3.0, 3.0), dy = test::random_tensor(s, 52);
  const OwnedTensor scale = test::random_tensor(cs, 53), bias = test::random_tensor(cs, 54),
                    mean = test::random_tensor(cs, 55), var = test::random_tensor(cs, 56, 0.1, 2.0);
  const BatchNormWeights host{scale, bias, mean, var, 1e-5f};
  OwnedTensorD y_ref(s);
  batchnorm_forward_reference<double>(host, test::to_double(x), y_ref);
  OwnedTensor dx_ref(s);
  batchnorm_backward_data(host, dy, dx_ref);

  const OwnedTensor scale_d = test::to_device(scale), bias_d = test::to_device(bias), mean_d = test::to_device(mean),
                    var_d = test::to_device(var);
  const BatchNormWeights dev{scale_d, bias_d, mean_d, var_d, 1e-5f};
  const OwnedTensor x_dev = test::to_device(x), dy_dev = test::to_device(dy);
  test::GuardedOutput y(s, 2), dx(s, 1);
  batchnorm_forward(dev, x_dev, y.view());
  batchnorm_backward_data(dev, dy_dev, dx.view());
  EXPECT_TRUE(y.guards_intact());
  EXPECT_TRUE(dx.guards_intact());
  EXPECT_TRUE(test::gpu_matches("forward", test::to_host(y.view()), y_ref, 1e-6, 1e-5, 1e-6));
  EXPECT_TRUE(test::gpu_matches("backward-data", test::to_host(dx.view()), dx_ref, 1e-6, 1e-6, 1e-6));
}

// ---- concat and dropout (pure copies: exact) --------------------------------------------------

TEST(ConcatCuda, CopiesChannelSlicesBothWays) {
  CUVIZ_REQUIRE_GPU();
  const std::vector<Shape> shapes = {{2, 3, 5, 7}, {2, 1, 5, 7}, {2, 6, 5, 7}};
  std::vector<OwnedTensor> xs_host, xs_dev;
  std::vector<Tensor> xs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    xs_host.push_back(test::random_tensor(shapes[i], 60 + i));
    xs_dev.push_back(test::to_device(xs_host.back()));
    xs.push_back(xs_dev.back());
  }
  const Shape ys = concat_output_shape(shapes);
  std::vector<Tensor> xs_host_views(xs_host.begin(), xs_host.end());
  OwnedTensor y_ref(ys);
  concat_forward(xs_host_views, y_ref);

  test::GuardedOutput y(ys, 2);
  concat_forward(xs, y.view());
  EXPECT_TRUE(y.guards_intact());
  EXPECT_TRUE(test::gpu_matches("forward", test::to_host(y.view()), y_ref, 0.0, 0.0));

  std::vector<test::GuardedOutput> dxs;
  std::vector<Tensor> dx_views;
  for (const Shape& s : shapes) dxs.emplace_back(s, 1);
  for (auto& g : dxs) dx_views.push_back(g.view());
  concat_backward_data(y.view(), dx_views);
  for (size_t i = 0; i < shapes.size(); ++i) {
    EXPECT_TRUE(dxs[i].guards_intact());
    EXPECT_TRUE(test::gpu_matches("backward-data", test::to_host(dx_views[i]), xs_host[i], 0.0, 0.0));
  }
}

TEST(DropoutCuda, IsAnExactCopyOfStridedViews) {
  CUVIZ_REQUIRE_GPU();
  const Shape s{3, 4, 5, 6};
  const OwnedTensor x = test::random_tensor(s, 71);
  const OwnedTensor x_dev = test::to_device(x);
  test::GuardedOutput y(s, 2), dx(s, 3);
  dropout_forward(x_dev, y.view());
  dropout_backward_data(y.view(), dx.view());
  EXPECT_TRUE(y.guards_intact());
  EXPECT_TRUE(dx.guards_intact());
  EXPECT_TRUE(test::gpu_matches("forward", test::to_host(y.view()), x, 0.0, 0.0));
  EXPECT_TRUE(test::gpu_matches("backward-data", test::to_host(dx.view()), x, 0.0, 0.0));
}

// ---- ReLU (selection only: exact) -------------------------------------------------------------

TEST(ReluCuda, ForwardAndBackwardAreExactOnStridedViews) {
  CUVIZ_REQUIRE_GPU();
  const Shape s{3, 5, 7, 9};
  const OwnedTensor x = test::random_tensor(s, 91), dy = test::random_tensor(s, 92);
  OwnedTensor y_ref(s), dx_ref(s);
  relu_forward_reference<float>(x, y_ref);
  relu_backward_data_reference<float>(y_ref, dy, dx_ref);
  const OwnedTensor x_dev = test::to_device(x), dy_dev = test::to_device(dy);
  test::GuardedOutput y(s, 2), dx(s, 1);
  relu_forward(x_dev, y.view());
  relu_backward_data(y.view(), dy_dev, dx.view());
  EXPECT_TRUE(y.guards_intact());
  EXPECT_TRUE(dx.guards_intact());
  EXPECT_TRUE(test::gpu_matches("forward", test::to_host(y.view()), y_ref, 0.0, 0.0));
  EXPECT_TRUE(test::gpu_matches("backward-data", test::to_host(dx.view()), dx_ref, 0.0, 0.0));
}

// ---- linear -----------------------------------------------------------------------------------

struct LinearCase {
  const char* name;
  Shape x;
  int out;
};

class LinearCuda : public ::testing::TestWithParam<LinearCase> {};

// Float sums of K products of values in [-1, 1], as for conv2d: 1e-6 + 3e-7 sqrt(K) normalised,
// 1e-5 + 1e-6 K per element.
TEST_P(LinearCuda, MatchesDoubleReferenceAndCublas) {
  CUVIZ_REQUIRE_GPU();
  const LinearCase& tc = GetParam();
  const int64_t K = tc.x.image_size();
  const Shape ws{tc.out, int(K), 1, 1}, bs{1, tc.out, 1, 1}, ys{tc.x.n, tc.out, 1, 1};
  const OwnedTensor x = test::random_tensor(tc.x, 81), w = test::random_tensor(ws, 82), b = test::random_tensor(bs, 83),
                    dy = test::random_tensor(ys, 84);
  const OwnedTensorD xd = test::to_double(x), wd = test::to_double(w), bd = test::to_double(b),
                     dyd = test::to_double(dy);
  OwnedTensorD y_ref(ys), dx_ref(tc.x), dw_ref(ws), db_ref(bs);
  linear_forward_reference<double>(xd, wd, bd, y_ref);
  linear_backward_data_reference<double>(dyd, wd, dx_ref);
  linear_backward_weight_reference<double>(xd, dyd, dw_ref, db_ref);

  const OwnedTensor x_dev = test::to_device(x), w_dev = test::to_device(w), b_dev = test::to_device(b),
                    dy_dev = test::to_device(dy);
  auto nrmse = [](int64_t k) { return 1e-6 + 3e-7 * std::sqrt(double(k)); };
  auto atol = [](int64_t k) { return 1e-5 + 1e-6 * double(k); };
  test::GuardedOutput y(ys, 3), dx(tc.x, 1), dw(ws), db(bs);
  linear_forward(x_dev, w_dev, b_dev, y.view());
  linear_backward_data(dy_dev, w_dev, dx.view());
  linear_backward_weight(x_dev, dy_dev, dw.view(), db.view());
  for (auto* g : {&y, &dx, &dw, &db}) EXPECT_TRUE(g->guards_intact());
  const OwnedTensor y_host = test::to_host(y.view());
  EXPECT_TRUE(test::gpu_matches("forward", y_host, y_ref, nrmse(K), atol(K), 1e-5));
  EXPECT_TRUE(test::gpu_matches("backward-data", test::to_host(dx.view()), dx_ref, nrmse(tc.out), atol(tc.out), 1e-5));
  EXPECT_TRUE(test::gpu_matches("backward-weight", test::to_host(dw.view()), dw_ref, nrmse(tc.x.n), atol(tc.x.n), 1e-5));
  EXPECT_TRUE(test::gpu_matches("bias grad", test::to_host(db.view()), db_ref, nrmse(tc.x.n), atol(tc.x.n), 1e-5));

  if (!cublas_oracle_available()) return;
  OwnedTensor y_cublas(ys, Device::cuda);
  cublas_linear_forward(x_dev, w_dev, b_dev, y_cublas);
  EXPECT_TRUE(test::gpu_matches("forward vs cuBLAS", y_host, test::to_host(y_cublas), 2 * nrmse(K), 2 * atol(K), 2e-5));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearCuda,
                         ::testing::Values(LinearCase{"flattened_odd", {5, 8, 3, 3}, 37},
                                           LinearCase{"googlenet_fc", {3, 1024, 1, 1}, 1000},
                                           LinearCase{"batch70_tiles", {70, 33, 1, 1}, 65}),
                         [](const ::testing::TestParamInfo<LinearCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace cuviz
