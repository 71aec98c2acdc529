// Reduced precision (kernels/precision.h, kernels/backend.h Precision) on the CPU: the BF16 and
// TF32 rounding functions the tensor-core kernels share, bit for bit (ties, signs, infinities,
// NaN, overflow, subnormals), and the CPU convolution's emulation of the tensor-core numerics:
// with a TF32/BF16 context, forward and backward-data equal an FP32 convolution of pre-rounded
// operands, and differ from plain FP32 by no more than the rounding allows (and by something).
#include "kernels/precision.h"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/backend.h"
#include "kernels/conv2d.h"
#include "test_util.h"

namespace cuviz {
namespace {

float f(uint32_t bits) { return bits_float(bits); }
uint32_t bits(float v) { return float_bits(v); }

TEST(Precision, NamesParseAndRefuse) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    EXPECT_EQ(parse_precision(precision_name(p)), p);
  try {
    parse_precision("fp16");
    FAIL() << "fp16 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown precision 'fp16' (choices: fp32, tf32, bf16)"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(check_precision(Precision::bf16, Backend::native));
  EXPECT_NO_THROW(check_precision(Precision::fp32, Backend::cudnn));
  EXPECT_THROW(check_precision(Precision::tf32, Backend::cudnn), Error);
}

TEST(Precision, Bf16RoundsToNearestEven) {
  EXPECT_EQ(bf16_bits(1.0f), 0x3f80u);
  EXPECT_EQ(bf16_bits(f(0x3f808000)), 0x3f80u);  // 1 + 2^-8: a tie, kept part even -> down
  EXPECT_EQ(bf16_bits(f(0x3f818000)), 0x3f82u);  // 1 + 3*2^-8: a tie, kept part odd -> up to even
  EXPECT_EQ(bf16_bits(f(0x3f808001)), 0x3f81u);  // just above the tie -> up
  EXPECT_EQ(bf16_bits(f(0x3f807fff)), 0x3f80u);  // just below -> down
  EXPECT_EQ(bf16_bits(f(0xbf818000)), 0xbf82u);  // negative tie: magnitude rounds as for positive
  EXPECT_EQ(bf16_bits(f(0xbf808001)), 0xbf81u);
  EXPECT_EQ(bf16_bits(f(0x3fffc000)), 0x4000u);  // 1.99..: carry into the exponent gives 2
  EXPECT_EQ(bf16_bits(0.0f), 0x0000u);
  EXPECT_EQ(bf16_bits(-0.0f), 0x8000u);
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::infinity()), 0x7f80u);
  EXPECT_EQ(bf16_bits(-std::numeric_limits<float>::infinity()), 0xff80u);
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::max()), 0x7f80u);  // above BF16's max: infinity
  EXPECT_EQ(bf16_bits(f(0x7f7f7fff)), 0x7f7fu);                     // below the halfway point: BF16's max
  // NaN stays NaN whatever its payload (a naive round would carry 0x7f800001 into infinity).
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu}) {
    EXPECT_TRUE(std::isnan(round_to_bf16(f(nan)))) << std::hex << nan;
    EXPECT_EQ(bf16_bits(f(nan)) >> 15, nan >> 31) << "sign of " << std::hex << nan;
  }
  // Subnormals: the same rule on the same bits.
  EXPECT_EQ(bf16_bits(f(0x00008000)), 0x0000u);  // tie, even -> 0
  EXPECT_EQ(bf16_bits(f(0x00018000)), 0x0002u);  // tie, odd -> up
  EXPECT_EQ(bf16_bits(f(0x00008001)), 0x0001u);
  EXPECT_EQ(bits(round_to_bf16(f(0x3f818000))), 0x3f820000u);
}

TEST(Precision, Tf32RoundsToNearestTiesAway) {
  EXPECT_EQ(bits(round_to_tf32(1.0f)), 0x3f800000u);
  EXPECT_EQ(bits(round_to_tf32(f(0x3f801000))), 0x3f802000u);  // 1 + 2^-11: a tie -> away (even would go down)
  EXPECT_EQ(bits(round_to_tf32(f(0x3f800fff))), 0x3f800000u);  // below the tie -> down
  EXPECT_EQ(bits(round_to_tf32(f(0x3f803000))), 0x3f804000u);  // tie -> away
  EXPECT_EQ(bits(round_to_tf32(f(0xbf801000))), 0xbf802000u);  // negative tie -> away from zero
  EXPECT_EQ(bits(round_to_tf32(f(0xbf800fff))), 0xbf800000u);
  EXPECT_EQ(bits(round_to_tf32(f(0x3fffffff))), 0x40000000u);  // carry into the exponent
  EXPECT_EQ(bits(round_to_tf32(-0.0f)), 0x80000000u);
  EXPECT_EQ(bits(round_to_tf32(std::numeric_limits<float>::infinity())), 0x7f800000u);
  EXPECT_EQ(bits(round_to_tf32(-std::numeric_limits<float>::infinity())), 0xff800000u);
  EXPECT_EQ(bits(round_to_tf32(std::numeric_limits<float>::max())), 0x7f800000u);
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7f801000u}) {
    const float r = round_to_tf32(f(nan));
    EXPECT_TRUE(std::isnan(r)) << std::hex << nan;
    EXPECT_EQ(bits(r) & 0x1fffu, 0u) << std::hex << nan;
    EXPECT_EQ(bits(r) >> 31, nan >> 31) << std::hex << nan;
  }
  EXPECT_EQ(bits(round_to_tf32(f(0x00001000))), 0x00002000u);  // subnormal tie -> away
  EXPECT_EQ(bits(round_to_tf32(f(0x00000fff))), 0x00000000u);
}

// Over many random values: the result is representable (low bits zero), within half an ulp of
// the input (2^-8 relative for BF16, 2^-11 for TF32), and rounding is idempotent.
TEST(Precision, RoundingErrorIsWithinHalfAnUlp) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mant(1.f, 2.f);
  std::uniform_int_distribution<int> expo(-100, 100);
  for (int i = 0; i < 100000; ++i) {
    const float v = std::ldexp(mant(rng), expo(rng)) * (i % 2 ? -1.f : 1.f);
    const float b = round_to_bf16(v), t = round_to_tf32(v);
    ASSERT_EQ(bits(b) & 0xffffu, 0u);
    ASSERT_EQ(bits(t) & 0x1fffu, 0u);
    ASSERT_LE(std::abs(double(b) - v), std::ldexp(std::abs(double(v)), -8)) << v;
    ASSERT_LE(std::abs(double(t) - v), std::ldexp(std::abs(double(v)), -11)) << v;
    ASSERT_EQ(round_to_bf16(b), b);
    ASSERT_EQ(round_to_tf32(t), t);
  }
}

// ---- the CPU convolution's emulation --------------------------------------------------------------

struct Case {
  const char* name;
  int n, c, h, w, o, kh, kw;
  Conv2dParams p;
  bool bias;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Conv2dParams params(int s, int pad, int groups, bool relu) {
  Conv2dParams p = Conv2dParams::make(s, pad, 1, groups);
  p.fuse_relu = relu;
  return p;
}

// Each CPU algorithm: im2col + SGEMM (odd K), pointwise (no im2col), Winograd (3x3, >= 16
// channels), strided, grouped, fused bias + ReLU.
const Case kCases[] = {
    {"k5_odd_K", 2, 7, 13, 11, 9, 5, 5, params(1, 2, 1, false), true},
    {"pointwise", 2, 24, 9, 9, 20, 1, 1, params(1, 0, 1, false), false},
    {"winograd_relu", 2, 16, 12, 10, 16, 3, 3, params(1, 1, 1, true), true},
    {"stride2_groups2", 3, 8, 15, 15, 6, 3, 3, params(2, 1, 2, false), true},
};

class PrecisionConv : public ::testing::TestWithParam<std::tuple<Case, Precision>> {};

OwnedTensor rounded(const Tensor& t, Precision prec) {
  OwnedTensor r(t.shape());
  for (int64_t k = 0; k < t.numel(); ++k)
    r.data()[k] = prec == Precision::bf16 ? round_to_bf16(t.data()[k]) : round_to_tf32(t.data()[k]);
  return r;
}

OwnedTensorD absolute(const Tensor& t) {
  OwnedTensorD a(t.shape());
  for (int64_t k = 0; k < t.numel(); ++k) a.data()[k] = std::abs(double(t.data()[k]));
  return a;
}

double rel_rms(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t k = 0; k < a.numel(); ++k) {
    num += (double(a.data()[k]) - b.data()[k]) * (double(a.data()[k]) - b.data()[k]);
    den += double(b.data()[k]) * b.data()[k];
  }
  return std::sqrt(num / den);
}

// Every element of `reduced` within u_total * S + fp32 slack of `exact`, S = sum |products|.
::testing::AssertionResult within_rounding(const Tensor& reduced, const Tensor& exact, const TensorD& s,
                                           double u_total, int64_t k) {
  for (int64_t i = 0; i < reduced.numel(); ++i) {
    const double bound = u_total * s.data()[i] + 1e-6 * double(k);
    const double err = std::abs(double(reduced.data()[i]) - exact.data()[i]);
    if (!(err <= bound))
      return ::testing::AssertionFailure() << "element " << i << ": error " << err << " > bound " << bound;
  }
  return ::testing::AssertionSuccess();
}

TEST_P(PrecisionConv, ForwardAndBackwardDataRoundTheirOperands) {
  const auto& [tc, prec] = GetParam();
  const Conv2dParams p = tc.p;
  Conv2dParams p_lin = p;
  p_lin.fuse_relu = false;
  const Shape xs{tc.n, tc.c, tc.h, tc.w}, ws{tc.o, tc.c / p.groups, tc.kh, tc.kw};
  const Shape ys = conv2d_output_shape(p, xs, ws);
  OwnedTensor x(xs), w(ws), dy(ys), b;
  test::fill_uniform<float>(x, 1);
  test::fill_uniform<float>(w, 2);
  test::fill_uniform<float>(dy, 3);
  if (tc.bias) {
    b = OwnedTensor(Shape{1, tc.o, 1, 1});
    test::fill_uniform<float>(b, 4);
  }
  const int64_t k_fwd = int64_t(ws.c) * ws.h * ws.w, k_bwd = int64_t(tc.o / p.groups) * ws.h * ws.w;

  OwnedTensor y(ys), dx(xs);
  {
    ExecContext ctx;
    ctx.precision = prec;
    const ExecScope scope(ctx);
    conv2d_forward(p, x, w, b, y);
    conv2d_backward_data(p_lin, dy, w, dx);
  }
  // The same FP32 algorithm on operands rounded beforehand: identical bits (bias is not rounded).
  const OwnedTensor xr = rounded(x, prec), wr = rounded(w, prec), dyr = rounded(dy, prec);
  OwnedTensor y_pre(ys), dx_pre(xs);
  conv2d_forward(p, xr, wr, b, y_pre);
  conv2d_backward_data(p_lin, dyr, wr, dx_pre);
  EXPECT_TRUE(test::all_close(y, y_pre, 0.0));
  EXPECT_TRUE(test::all_close(dx, dx_pre, 0.0));

  // Against plain FP32: each product x*w becomes x(1+a) w(1+b) with |a|, |b| <= u (2^-8 BF16,
  // 2^-11 TF32), so |y_prec - y| <= (2u + u^2) sum |x w| (ReLU is 1-Lipschitz), plus FP32 rounding
  // of both sums. And rounding must show: the relative RMS difference is at least u / 16 (the
  // typical relative error of a product is ~u / 2; sums of random signs keep it that size).
  OwnedTensor y32(ys), dx32(xs);
  conv2d_forward(p, x, w, b, y32);
  conv2d_backward_data(p_lin, dy, w, dx32);
  OwnedTensorD s_fwd(ys), s_bwd(xs);
  conv2d_forward_reference<double>(p_lin, absolute(x), absolute(w), OwnedTensorD(), s_fwd);
  conv2d_backward_data_reference<double>(p_lin, absolute(dy), absolute(w), s_bwd);
  const double u = prec == Precision::bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  EXPECT_TRUE(within_rounding(y, y32, s_fwd, 2 * u + u * u, k_fwd));
  EXPECT_TRUE(within_rounding(dx, dx32, s_bwd, 2 * u + u * u, k_bwd));
  const double ry = rel_rms(y, y32), rdx = rel_rms(dx, dx32);
  EXPECT_GT(ry, u / 16) << "forward barely changed: were the operands rounded?";
  EXPECT_GT(rdx, u / 16) << "backward-data barely changed: were the operands rounded?";
  EXPECT_LT(ry, 2 * u);
  EXPECT_LT(rdx, 2 * u);
}

TEST(PrecisionConvScope, WeightGradientStaysFp32AndOutsideAScopeIsFp32) {
  const Conv2dParams p = Conv2dParams::make(1, 1);
  OwnedTensor x(Shape{2, 3, 9, 9}), dy(Shape{2, 4, 9, 9}), w(Shape{4, 3, 3, 3});
  test::fill_uniform<float>(x, 5);
  test::fill_uniform<float>(dy, 6);
  test::fill_uniform<float>(w, 7);
  OwnedTensor dw32(w.shape()), dwb(w.shape()), y32(dy.shape()), y_after(dy.shape());
  conv2d_backward_weight(p, x, dy, dw32, Tensor());
  conv2d_forward(p, x, w, Tensor(), y32);
  {
    ExecContext ctx;
    ctx.precision = Precision::bf16;
    const ExecScope scope(ctx);
    conv2d_backward_weight(p, x, dy, dwb, Tensor());
  }
  EXPECT_TRUE(test::all_close(dwb, dw32, 0.0));
  conv2d_forward(p, x, w, Tensor(), y_after);  // the scope ended: FP32 again
  EXPECT_TRUE(test::all_close(y_after, y32, 0.0));
}

INSTANTIATE_TEST_SUITE_P(Cases, PrecisionConv,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(Precision::tf32, Precision::bf16)),
                         [](const ::testing::TestParamInfo<PrecisionConv::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  precision_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace cuviz
