// Conv2d CUDA kernels (forward, backward-data, backward-weight) against the double-precision
// CPU reference and, where cuDNN is available, against cuDNN: odd sizes, 1x1/3x3/5x5/7x7,
// stride 2, asymmetric padding, dilation, groups, depthwise, bias + fused ReLU, batch-strided
// views, and a shape large enough to select the 128x128 tile. Outputs are guarded (sentinels
// around, NaN inside) so stray and missing writes fail too. The tensor-core path (TF32/BF16
// forward and backward-data) runs the same cases against references on rounded operands.
#include "kernels/backend.h"
#include "kernels/conv2d.h"
#include "kernels/cudnn_oracle.h"
#include "kernels/precision.h"

#include <vector>

#include "cuda_test_util.h"

namespace cuviz {
namespace {

struct ConvCase {
  const char* name;
  int n, c, h, w, o, kh, kw;
  Conv2dParams p;
  bool bias;
  int x_extra, y_extra;  // extra channel planes between images (strided views)
};

Conv2dParams params(int sh, int sw, int pt, int pl, int pb, int pr, int d, int groups, bool relu) {
  return Conv2dParams{sh, sw, pt, pl, pb, pr, d, d, groups, relu};
}

const ConvCase kCases[] = {
    {"pointwise_1x1", 2, 16, 13, 11, 24, 1, 1, params(1, 1, 0, 0, 0, 0, 1, 1, false), true, 0, 0},
    {"k3_pad1_relu_strided", 3, 8, 17, 15, 12, 3, 3, params(1, 1, 1, 1, 1, 1, 1, 1, true), true, 3, 5},
    {"k5_pad2", 2, 6, 19, 19, 10, 5, 5, params(1, 1, 2, 2, 2, 2, 1, 1, false), false, 0, 0},
    {"k7_stride2_pad3", 2, 3, 37, 37, 16, 7, 7, params(2, 2, 3, 3, 3, 3, 1, 1, true), true, 0, 2},
    {"k3_stride2_asym_pad", 2, 5, 14, 9, 7, 3, 3, params(2, 2, 0, 1, 1, 0, 1, 1, false), true, 1, 0},
    {"k3x5_stride2x1", 1, 4, 11, 13, 6, 3, 5, params(2, 1, 1, 2, 1, 2, 1, 1, false), true, 0, 0},
    {"dilation2", 1, 4, 21, 21, 8, 3, 3, params(1, 1, 2, 2, 2, 2, 2, 1, false), true, 0, 0},
    {"groups2", 2, 8, 12, 12, 6, 3, 3, params(1, 1, 1, 1, 1, 1, 1, 2, false), true, 0, 1},
    {"depthwise_stride2", 2, 8, 15, 15, 8, 3, 3, params(2, 2, 1, 1, 1, 1, 1, 8, false), true, 0, 0},
    {"large_tile128", 33, 16, 32, 32, 128, 3, 3, params(1, 1, 1, 1, 1, 1, 1, 1, false), true, 0, 0},
};

// Float accumulation over K terms of products of values in [-1, 1]: the rounding error of a
// sum grows like eps * sqrt(K) relative to its size (random walk, eps = 6e-8). The normalised
// error allows 5x that; single elements get 1e-6 * K absolute (a loose worst case that still
// catches a missing or misplaced tap, whose products are ~0.3 on average).
double nrmse_tol(int64_t K) { return 1e-6 + 3e-7 * std::sqrt(double(K)); }
double abs_tol(int64_t K) { return 1e-5 + 1e-6 * double(K); }

class Conv2dCuda : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dCuda, MatchesDoubleReferenceAndCudnn) {
  CUVIZ_REQUIRE_GPU();
  const ConvCase& tc = GetParam();
  const Conv2dParams p = tc.p;
  Conv2dParams p_lin = p;
  p_lin.fuse_relu = false;
  const Shape xs{tc.n, tc.c, tc.h, tc.w}, ws{tc.o, tc.c / p.groups, tc.kh, tc.kw}, bs{1, tc.o, 1, 1};
  const Shape ys = conv2d_output_shape(p, xs, ws);
  const OwnedTensor x = test::random_tensor(xs, 11), w = test::random_tensor(ws, 12), dy = test::random_tensor(ys, 14);
  const OwnedTensor b = tc.bias ? test::random_tensor(bs, 13) : OwnedTensor();

  // Double-precision references.
  const OwnedTensorD xd = test::to_double(x), wd = test::to_double(w), dyd = test::to_double(dy);
  const OwnedTensorD bd = tc.bias ? test::to_double(b) : OwnedTensorD();
  OwnedTensorD y_ref(ys), dx_ref(xs), dw_ref(ws), db_ref(bs);
  conv2d_forward_reference<double>(p, xd, wd, bd, y_ref);
  conv2d_backward_data_reference<double>(p_lin, dyd, wd, dx_ref);
  conv2d_backward_weight_reference<double>(p_lin, xd, dyd, dw_ref, db_ref);

  // Device inputs; x is a channel slice of a wider tensor when x_extra > 0.
  OwnedTensor x_wide(Shape{tc.n, tc.c + tc.x_extra, tc.h, tc.w}, Device::cuda);
  fill(x_wide, 3.f);
  const Tensor x_dev = x_wide.channels(tc.x_extra, tc.c);
  copy(x, x_dev);
  const OwnedTensor w_dev = test::to_device(w), dy_dev = test::to_device(dy);
  const OwnedTensor b_dev = tc.bias ? test::to_device(b) : OwnedTensor();

  const int64_t k_fwd = int64_t(ws.c) * ws.h * ws.w, k_bwd = int64_t(tc.o / p.groups) * ws.h * ws.w;
  const int64_t k_wgt = int64_t(ys.n) * ys.h * ys.w;

  test::GuardedOutput y(ys, tc.y_extra);
  conv2d_forward(p, x_dev, w_dev, b_dev, y.view());
  EXPECT_TRUE(y.guards_intact());
  const OwnedTensor y_host = test::to_host(y.view());
  EXPECT_TRUE(test::gpu_matches("forward vs reference", y_host, y_ref, nrmse_tol(k_fwd), abs_tol(k_fwd), 1e-5));

  test::GuardedOutput dx(xs, tc.x_extra);
  conv2d_backward_data(p_lin, dy_dev, w_dev, dx.view());
  EXPECT_TRUE(dx.guards_intact());
  const OwnedTensor dx_host = test::to_host(dx.view());
  EXPECT_TRUE(
      test::gpu_matches("backward-data vs reference", dx_host, dx_ref, nrmse_tol(k_bwd), abs_tol(k_bwd), 1e-5));

  test::GuardedOutput dw(ws), db(bs);
  conv2d_backward_weight(p_lin, x_dev, dy_dev, dw.view(), db.view());
  EXPECT_TRUE(dw.guards_intact());
  EXPECT_TRUE(db.guards_intact());
  const OwnedTensor dw_host = test::to_host(dw.view()), db_host = test::to_host(db.view());
  EXPECT_TRUE(
      test::gpu_matches("backward-weight vs reference", dw_host, dw_ref, nrmse_tol(k_wgt), abs_tol(k_wgt), 1e-5));
  EXPECT_TRUE(test::gpu_matches("bias grad vs reference", db_host, db_ref, nrmse_tol(k_wgt), abs_tol(k_wgt), 1e-5));

  const bool symmetric = p.pad_top == p.pad_bottom && p.pad_left == p.pad_right;
  if (!cudnn_oracle_available() || !symmetric) return;
  // cuDNN (strict FP32) and ours both approximate the reference within the bounds above, so
  // they agree within twice those bounds.
  OwnedTensor y_cudnn(ys, Device::cuda), dx_cudnn(xs, Device::cuda), dw_cudnn(ws, Device::cuda),
      db_cudnn(bs, Device::cuda);
  cudnn_conv2d_forward(p, x_dev, w_dev, b_dev, y_cudnn);
  cudnn_conv2d_backward_data(p_lin, dy_dev, w_dev, dx_cudnn);
  cudnn_conv2d_backward_weight(p_lin, x_dev, dy_dev, dw_cudnn, db_cudnn);
  EXPECT_TRUE(test::gpu_matches("forward vs cuDNN", y_host, test::to_host(y_cudnn), 2 * nrmse_tol(k_fwd),
                                2 * abs_tol(k_fwd), 2e-5));
  EXPECT_TRUE(test::gpu_matches("backward-data vs cuDNN", dx_host, test::to_host(dx_cudnn), 2 * nrmse_tol(k_bwd),
                                2 * abs_tol(k_bwd), 2e-5));
  EXPECT_TRUE(test::gpu_matches("backward-weight vs cuDNN", dw_host, test::to_host(dw_cudnn), 2 * nrmse_tol(k_wgt),
                                2 * abs_tol(k_wgt), 2e-5));
}

// The tensor-core kernel at TF32 and BF16, forward (bias, fused ReLU, strided views) and
// backward-data, against (1) the double-precision reference on operands rounded by the same
// functions (kernels/precision.h): the products are then exact, and only the FP32 accumulation
// order differs, so the FP32 path's bounds apply, doubled because the tensor cores align the
// addends of each mma to the largest before adding (a few more ulps than sequential FMAs); and
// (2) the CPU emulation of the same precision, which approximates the same exact sum (twice
// again). A wrong rounding (e.g. none, or truncation) breaks (1) by ~u = 2^-8 or 2^-11 relative,
// far above these bounds. Every case has K = C/G*kh*kw or O/G*kh*kw not a multiple of 16 except
// the pointwise one, and M, N not multiples of 64, so the zero-filled edges are exercised.
class Conv2dTensorCores : public ::testing::TestWithParam<std::tuple<ConvCase, Precision>> {};

OwnedTensor rounded(const Tensor& t, Precision prec) {
  OwnedTensor r(t.shape());
  for (int64_t k = 0; k < t.numel(); ++k)
    r.data()[k] = prec == Precision::bf16 ? round_to_bf16(t.data()[k]) : round_to_tf32(t.data()[k]);
  return r;
}

TEST_P(Conv2dTensorCores, MatchRoundedReferenceAndCpuEmulation) {
  CUVIZ_REQUIRE_GPU();
  const auto& [tc, prec] = GetParam();
  const Conv2dParams p = tc.p;
  Conv2dParams p_lin = p;
  p_lin.fuse_relu = false;
  const Shape xs{tc.n, tc.c, tc.h, tc.w}, ws{tc.o, tc.c / p.groups, tc.kh, tc.kw}, bs{1, tc.o, 1, 1};
  const Shape ys = conv2d_output_shape(p, xs, ws);
  const OwnedTensor x = test::random_tensor(xs, 21), w = test::random_tensor(ws, 22), dy = test::random_tensor(ys, 24);
  const OwnedTensor b = tc.bias ? test::random_tensor(bs, 23) : OwnedTensor();

  // (1) Exact sums of the rounded operands' products (bias is added in FP32, unrounded).
  const OwnedTensorD bd = tc.bias ? test::to_double(b) : OwnedTensorD();
  const OwnedTensorD xd = test::to_double(rounded(x, prec)), wd = test::to_double(rounded(w, prec)),
                     dyd = test::to_double(rounded(dy, prec));
  OwnedTensorD y_ref(ys), dx_ref(xs);
  conv2d_forward_reference<double>(p, xd, wd, bd, y_ref);
  conv2d_backward_data_reference<double>(p_lin, dyd, wd, dx_ref);

  // (2) The CPU emulation.
  ExecContext ctx;
  ctx.precision = prec;
  OwnedTensor y_emu(ys), dx_emu(xs);
  {
    const ExecScope scope(ctx);
    conv2d_forward(p, x, w, b, y_emu);
    conv2d_backward_data(p_lin, dy, w, dx_emu);
  }

  OwnedTensor x_wide(Shape{tc.n, tc.c + tc.x_extra, tc.h, tc.w}, Device::cuda);
  fill(x_wide, 3.f);
  const Tensor x_dev = x_wide.channels(tc.x_extra, tc.c);
  copy(x, x_dev);
  const OwnedTensor w_dev = test::to_device(w), dy_dev = test::to_device(dy);
  const OwnedTensor b_dev = tc.bias ? test::to_device(b) : OwnedTensor();
  test::GuardedOutput y(ys, tc.y_extra), dx(xs, tc.x_extra);
  {
    const ExecScope scope(ctx);
    conv2d_forward(p, x_dev, w_dev, b_dev, y.view());
    conv2d_backward_data(p_lin, dy_dev, w_dev, dx.view());
  }
  EXPECT_TRUE(y.guards_intact());
  EXPECT_TRUE(dx.guards_intact());
  const OwnedTensor y_host = test::to_host(y.view()), dx_host = test::to_host(dx.view());

  const int64_t k_fwd = int64_t(ws.c) * ws.h * ws.w, k_bwd = int64_t(tc.o / p.groups) * ws.h * ws.w;
  EXPECT_TRUE(test::gpu_matches("tensor-core forward vs rounded reference", y_host, y_ref, 2 * nrmse_tol(k_fwd),
                                2 * abs_tol(k_fwd), 2e-5));
  EXPECT_TRUE(test::gpu_matches("tensor-core backward-data vs rounded reference", dx_host, dx_ref,
                                2 * nrmse_tol(k_bwd), 2 * abs_tol(k_bwd), 2e-5));
  EXPECT_TRUE(test::gpu_matches("tensor-core forward vs CPU emulation", y_host, y_emu, 4 * nrmse_tol(k_fwd),
                                4 * abs_tol(k_fwd), 4e-5));
  EXPECT_TRUE(test::gpu_matches("tensor-core backward-data vs CPU emulation", dx_host, dx_emu, 4 * nrmse_tol(k_bwd),
                                4 * abs_tol(k_bwd), 4e-5));
}

// The operand rounding itself, bit for bit: a 1x1 convolution with one input channel computes
// y = round(w) * round(x) + zero padding, exact in FP32, so with one operand 1.0 the output IS the
// kernel's rounding of the other. Checked for both operands (x staged as B, w as A) against
// round_to_tf32 / round_to_bf16: on a GPU this shows that __float_to_tf32 (cvt.rna) and the BF16
// staging round exactly as the CPU emulation does, ties included. Finite normal values only.
std::vector<float> rounding_probes() {
  std::vector<float> v;
  for (uint32_t b : {0x3f801000u, 0xbf801000u, 0x3f803000u, 0x3f800fffu, 0x3f801001u,  // TF32 ties, near ties
                     0x3f808000u, 0x3f818000u, 0xbf818000u, 0x3f807fffu, 0x3f808001u,  // BF16 ties, near ties
                     0x3fffffffu, 0x3fffc000u, 0x3f800000u, 0x42f6e979u, 0x3a83126fu})  // carries, exact, misc
    v.push_back(bits_float(b));
  uint64_t s = 0x9e3779b97f4a7c15ull;  // an LCG (Knuth's MMIX): any sign and mantissa, exponents -20 .. 20
  while (v.size() < 200) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t r = uint32_t(s >> 32), e = uint32_t(127 - 20 + uint32_t(s >> 8) % 41);
    v.push_back(bits_float((r & 0x807fffffu) | (e << 23)));
  }
  return v;
}

TEST(Conv2dTensorCoreRounding, OperandsRoundLikeTheCpuBitForBit) {
  CUVIZ_REQUIRE_GPU();
  const std::vector<float> probes = rounding_probes();
  const int n = int(probes.size());
  for (Precision prec : {Precision::tf32, Precision::bf16}) {
    ExecContext ctx;
    ctx.precision = prec;
    const Conv2dParams p{};
    // B operand: x holds the probes (one row of n pixels), w = 1.
    OwnedTensor x(Shape{1, 1, 1, n}), one(Shape{1, 1, 1, 1});
    for (int i = 0; i < n; ++i) x.data()[i] = probes[i];
    one.data()[0] = 1.f;
    // A operand: w holds the probes (n output channels), x = 1 (one pixel).
    OwnedTensor w(Shape{n, 1, 1, 1});
    for (int i = 0; i < n; ++i) w.data()[i] = probes[i];
    const OwnedTensor x_dev = test::to_device(x), w_dev = test::to_device(w), one_dev = test::to_device(one);
    OwnedTensor yb(Shape{1, 1, 1, n}, Device::cuda), ya(Shape{1, n, 1, 1}, Device::cuda);
    {
      const ExecScope scope(ctx);
      conv2d_forward(p, x_dev, one_dev, Tensor(), yb);
      conv2d_forward(p, one_dev, w_dev, Tensor(), ya);
    }
    const OwnedTensor yb_host = test::to_host(yb), ya_host = test::to_host(ya);
    for (int i = 0; i < n; ++i) {
      const float want = prec == Precision::bf16 ? round_to_bf16(probes[i]) : round_to_tf32(probes[i]);
      EXPECT_EQ(float_bits(yb_host.data()[i]), float_bits(want))
          << precision_name(prec) << " B operand, probe " << std::hex << float_bits(probes[i]);
      EXPECT_EQ(float_bits(ya_host.data()[i]), float_bits(want))
          << precision_name(prec) << " A operand, probe " << std::hex << float_bits(probes[i]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dTensorCores,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(Precision::tf32, Precision::bf16)),
                         [](const ::testing::TestParamInfo<Conv2dTensorCores::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  precision_name(std::get<1>(info.param));
                         });

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dCuda, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ConvCase>& info) { return std::string(info.param.name); });

// The public entry point refuses mixed devices instead of reading host memory on the GPU.
TEST(Conv2dCudaDispatch, RejectsMixedDevices) {
  CUVIZ_REQUIRE_GPU();
  const OwnedTensor x = test::random_tensor(Shape{1, 2, 5, 5}, 1), w_host = test::random_tensor(Shape{3, 2, 3, 3}, 2);
  const OwnedTensor x_dev = test::to_device(x);
  OwnedTensor y_dev(Shape{1, 3, 3, 3}, Device::cuda);
  EXPECT_THROW(conv2d_forward(Conv2dParams{}, x_dev, w_host, Tensor(), y_dev), Error);
}

}  // namespace
}  // namespace cuviz
