// Image parameterizations: the inverse real DFT against a direct complex double sum (odd and even
// sizes, Hermitian handling), the linear parts' adjoints, the whole chain against PyTorch's
// irfft2 pipeline (fixture), finite-difference gradients in double, seeded initialisation.
#include "viz/fourier_param.h"

#include <complex>
#include <cstring>
#include <vector>

#include "test_util.h"
#include "viz/transform.h"
#include "viz_fixtures.h"

namespace cuviz {
namespace {

using cd = std::complex<double>;
constexpr double kTwoPi = 6.283185307179586476925286766559;

ImageParamSpec spec_of(ParamKind kind, int n, int h, int w, bool decorrelate = true) {
  ImageParamSpec s;
  s.kind = kind;
  s.n = n;
  s.h = h;
  s.w = w;
  s.decorrelate = decorrelate;
  return s;
}

// t = A z: the two passes of the library (scale, irfft2 ortho, / 4) for one plane, in T.
template <class T>
std::vector<T> fourier_linear(const ImageParamSpec& s, const FourierTables<T>& tab, const std::vector<T>& z) {
  std::vector<T> y(size_t(s.h) * s.wh() * 2), t(size_t(s.h) * s.w);
  for (int h = 0; h < s.h; ++h)
    for (int kx = 0; kx < s.wh(); ++kx)
      fourier_rows_at(z.data(), tab.scale.data(), tab.cos_h.data(), tab.sin_h.data(), s.h, s.wh(), h, kx,
                      y[(h * s.wh() + kx) * 2], y[(h * s.wh() + kx) * 2 + 1]);
  for (int h = 0; h < s.h; ++h)
    for (int w = 0; w < s.w; ++w)
      t[h * s.w + w] = fourier_cols_at(y.data(), tab.cos_w.data(), tab.sin_w.data(), s.w, s.wh(), h, w, tab.norm);
  return t;
}
// z = A^T t, by the library's adjoint passes.
template <class T>
std::vector<T> fourier_linear_adjoint(const ImageParamSpec& s, const FourierTables<T>& tab, const std::vector<T>& t) {
  std::vector<T> dy(size_t(s.h) * s.wh() * 2), dz(dy.size());
  for (int h = 0; h < s.h; ++h)
    for (int kx = 0; kx < s.wh(); ++kx)
      fourier_cols_adjoint_at(t.data(), tab.cos_w.data(), tab.sin_w.data(), s.w, h, kx, tab.norm,
                              dy[(h * s.wh() + kx) * 2], dy[(h * s.wh() + kx) * 2 + 1]);
  for (int ky = 0; ky < s.h; ++ky)
    for (int kx = 0; kx < s.wh(); ++kx)
      fourier_rows_adjoint_at(dy.data(), tab.scale.data(), tab.cos_h.data(), tab.sin_h.data(), s.h, s.wh(), ky, kx,
                              dz[(ky * s.wh() + kx) * 2], dz[(ky * s.wh() + kx) * 2 + 1]);
  return dz;
}

// numpy.fft.irfft2(z, norm="ortho") written from its definition: extend the half spectrum to
// the full one (column kx > W/2 is the conjugate of the mirrored column, the imaginary parts of
// the DC and Nyquist columns dropped after the transform along H), then the full complex sum.
std::vector<double> direct_irfft2(int H, int W, const std::vector<double>& z) {
  const int wh = W / 2 + 1;
  std::vector<cd> col(size_t(H) * wh);  // after the complex inverse along H
  for (int h = 0; h < H; ++h)
    for (int kx = 0; kx < wh; ++kx) {
      cd s = 0;
      for (int ky = 0; ky < H; ++ky)
        s += cd(z[(ky * wh + kx) * 2], z[(ky * wh + kx) * 2 + 1]) * std::polar(1.0, kTwoPi * ky * h / H);
      if (kx == 0 || 2 * kx == W) s = cd(s.real(), 0.0);
      col[h * wh + kx] = s;
    }
  std::vector<double> x(size_t(H) * W);
  for (int h = 0; h < H; ++h)
    for (int w = 0; w < W; ++w) {
      cd s = 0;
      for (int kx = 0; kx < W; ++kx) {
        const cd v = kx < wh ? col[h * wh + kx] : std::conj(col[h * wh + (W - kx)]);
        s += v * std::polar(1.0, kTwoPi * kx * w / W);
      }
      x[h * W + w] = s.real() / std::sqrt(double(H * W));
    }
  return x;
}

std::vector<double> random_vector(size_t n, uint64_t seed) {
  OwnedTensorD t(Shape{1, 1, 1, int(n)});
  test::fill_uniform(t, seed);
  return std::vector<double>(t.data(), t.data() + n);
}

class FourierSizes : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(FourierSizes, InverseRdftMatchesDirectDoubleSum) {
  const auto [h, w] = GetParam();
  const ImageParamSpec s = spec_of(ParamKind::fourier, 1, h, w);
  FourierTables<double> tab(s);
  std::fill(tab.scale.begin(), tab.scale.end(), 1.0);
  tab.norm *= 4;  // compare the bare orthonormal inverse
  const std::vector<double> z = random_vector(size_t(h) * s.wh() * 2, 11);  // Im of DC/Nyquist nonzero too
  const std::vector<double> got = fourier_linear(s, tab, z), want = direct_irfft2(h, w, z);
  double max_err = 0;
  for (size_t k = 0; k < got.size(); ++k) max_err = std::max(max_err, std::abs(got[k] - want[k]));
  // Double sums of <= 256 unit-size terms: rounding stays below 1e-12.
  EXPECT_LT(max_err, 1e-12) << h << "x" << w;
}

TEST_P(FourierSizes, RoundTripThroughForwardRdftIsIdentity) {
  // irfft2(rfft2(x)) = x for real x: the Hermitian weights (DC, Nyquist, mirrored columns) must
  // be exactly right for this to hold on odd and even sizes.
  const auto [h, w] = GetParam();
  const ImageParamSpec s = spec_of(ParamKind::fourier, 1, h, w);
  FourierTables<double> tab(s);
  std::fill(tab.scale.begin(), tab.scale.end(), 1.0);
  tab.norm *= 4;
  const std::vector<double> x = random_vector(size_t(h) * w, 12);
  std::vector<double> z(size_t(h) * s.wh() * 2);
  for (int ky = 0; ky < h; ++ky)
    for (int kx = 0; kx < s.wh(); ++kx) {
      cd acc = 0;
      for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c) acc += x[r * w + c] * std::polar(1.0, -kTwoPi * (double(ky) * r / h + double(kx) * c / w));
      acc /= std::sqrt(double(h * w));
      z[(ky * s.wh() + kx) * 2] = acc.real();
      z[(ky * s.wh() + kx) * 2 + 1] = acc.imag();
    }
  const std::vector<double> back = fourier_linear(s, tab, z);
  for (size_t k = 0; k < x.size(); ++k) ASSERT_NEAR(back[k], x[k], 1e-12) << h << "x" << w << " at " << k;
}

TEST_P(FourierSizes, AdjointDotProductInFloat) {
  const auto [h, w] = GetParam();
  const ImageParamSpec s = spec_of(ParamKind::fourier, 1, h, w);
  const FourierTables<float> tab(s);
  std::vector<float> z(size_t(h) * s.wh() * 2), t(size_t(h) * w);
  const auto zd = random_vector(z.size(), 21), td = random_vector(t.size(), 22);
  std::copy(zd.begin(), zd.end(), z.begin());
  std::copy(td.begin(), td.end(), t.begin());
  const std::vector<float> az = fourier_linear(s, tab, z), att = fourier_linear_adjoint(s, tab, t);
  double lhs = 0, rhs = 0, mag = 0;
  for (size_t k = 0; k < t.size(); ++k) lhs += double(az[k]) * t[k], mag += std::abs(double(az[k]) * t[k]);
  for (size_t k = 0; k < z.size(); ++k) rhs += double(z[k]) * att[k];
  // Float passes: each product carries a relative error of about (H + W) * 2^-24, so compare
  // relative to the magnitude of the sum, sum |terms|.
  EXPECT_NEAR(lhs, rhs, 1e-5 * mag) << h << "x" << w;
}

INSTANTIATE_TEST_SUITE_P(OddAndEven, FourierSizes,
                         ::testing::Values(std::pair{7, 9}, std::pair{8, 6}, std::pair{16, 16}, std::pair{5, 4},
                                           std::pair{1, 3}, std::pair{6, 1}));

TEST(FourierParam, ImaginaryPartsOfSelfConjugateBinsHaveNoEffect) {
  // Bins (0, 0), (0, W/2), (H/2, 0), (H/2, W/2) are their own mirror: their imaginary parts are
  // invisible to a real inverse DFT, and their gradients must be exactly zero.
  for (auto [h, w] : {std::pair{8, 6}, std::pair{7, 9}}) {
    const ImageParamSpec s = spec_of(ParamKind::fourier, 1, h, w);
    const FourierTables<double> tab(s);
    std::vector<double> z = random_vector(size_t(h) * s.wh() * 2, 5), z2 = z;
    std::vector<std::pair<int, int>> self = {{0, 0}};
    if (w % 2 == 0) self.push_back({0, w / 2});
    if (h % 2 == 0) self.push_back({h / 2, 0});
    if (h % 2 == 0 && w % 2 == 0) self.push_back({h / 2, w / 2});
    for (auto [ky, kx] : self) z2[(ky * s.wh() + kx) * 2 + 1] += 3.0;
    const auto a = fourier_linear(s, tab, z), b = fourier_linear(s, tab, z2);
    for (size_t k = 0; k < a.size(); ++k) ASSERT_NEAR(a[k], b[k], 1e-12);
    const auto g = fourier_linear_adjoint(s, tab, random_vector(size_t(h) * w, 6));
    for (auto [ky, kx] : self) EXPECT_EQ(g[(ky * s.wh() + kx) * 2 + 1], 0.0) << ky << "," << kx;
    // ... while the imaginary part of a DC-column bin with ky != 0, H/2 does change the image.
    z2 = z;
    z2[(1 * s.wh()) * 2 + 1] += 1.0;
    const auto c = fourier_linear(s, tab, z2);
    double diff = 0;
    for (size_t k = 0; k < a.size(); ++k) diff += std::abs(c[k] - a[k]);
    EXPECT_GT(diff, 0.1);
  }
}

TEST(FourierParam, MatchesTorchIrfft2Pipeline) {
  for (auto [h, w, want] : {std::tuple{7, 9, fixture::kFourier7x9}, std::tuple{8, 6, fixture::kFourier8x6}}) {
    const ImageParamSpec s = spec_of(ParamKind::fourier, 1, h, w);
    OwnedTensor p(s.param_shape()), img(s.image_shape());
    for (int64_t k = 0; k < p.numel(); ++k) p.data()[k] = float(0.3 * std::sin(0.37 * k + 0.1) + 0.05 * std::cos(1.3 * k));
    ImageParam param(s, Device::cpu);
    param.forward(p, img);
    OwnedTensor ref(s.image_shape());
    std::memcpy(ref.data(), want, sizeof(float) * size_t(ref.numel()));
    // Both sides in float with different summation orders (pocketfft vs the two table-driven
    // passes): measured 1 ulp at 0.5 (6e-8); 3e-7 allows 5 ulps. A wrong factor (sqrt(HW), the
    // /4) or Hermitian weight is off by > 1e-2.
    EXPECT_TRUE(test::all_close(img, ref, 3e-7)) << h << "x" << w;
  }
}

TEST(ColorDecorrelation, AdjointAndNormalisation) {
  double max_col = 0;
  for (int j = 0; j < 3; ++j) {
    double n = 0;
    for (int i = 0; i < 3; ++i) n += color_matrix(i, j) * color_matrix(i, j);
    max_col = std::max(max_col, std::sqrt(n));
  }
  EXPECT_NEAR(max_col, 1.0, 1e-15);  // divided by its largest column norm
  const double t[3] = {0.3, -1.2, 0.7}, r[3] = {-0.4, 0.9, 2.0};
  double ct[3], ctr[3];
  color_forward(t, ct);
  color_backward(r, ctr);
  double lhs = 0, rhs = 0;
  for (int i = 0; i < 3; ++i) lhs += ct[i] * r[i], rhs += t[i] * ctr[i];
  EXPECT_NEAR(lhs, rhs, 1e-14);
}

// Finite differences of sum(w * image(params)) in double, for both kinds and colour on/off.
TEST(ImageParam, GradientCheckOfWholeChain) {
  for (ParamKind kind : {ParamKind::fourier, ParamKind::pixel})
    for (bool decorrelate : {true, false}) {
      const ImageParamSpec s = spec_of(kind, 2, 5, 6, decorrelate);
      OwnedTensorD p(s.param_shape()), img(s.image_shape()), wgt(s.image_shape()), dp(s.param_shape());
      test::fill_uniform(p, 31, -0.5, 0.5);
      test::fill_uniform(wgt, 32);
      image_param_forward_cpu<double>(s, p, img);
      image_param_backward_cpu<double>(s, img, wgt, dp);
      auto loss = [&] {
        image_param_forward_cpu<double>(s, p, img);
        return test::weighted_sum(img, wgt);
      };
      // Smooth function, central differences with eps 1e-6: truncation ~1e-12, cancellation
      // ~1e-10 relative; 1e-8 absolute + 1e-6 relative is tight yet safe.
      EXPECT_TRUE(test::gradient_check(p, loss, dp, 0, 1e-6, 1e-8, 1e-6))
          << param_kind_name(kind) << " decorrelate " << decorrelate;
    }
}

TEST(ImageParam, GradientCheckThroughTransformAndPreprocessing) {
  const ImageParamSpec s = spec_of(ParamKind::fourier, 2, 8, 8);
  TransformSpec ts = TransformSpec::standard();
  ts.pad = 3;
  std::vector<Affine> thetas(2);
  draw_affines(ts, 8, 8, 7, 3, thetas);
  ModelMeta meta;
  const Preprocess pre = Preprocess::from_meta(meta);
  OwnedTensorD p(s.param_shape()), img(s.image_shape()), net(s.image_shape()), wgt(s.image_shape()),
      dimg(s.image_shape()), dp(s.param_shape());
  test::fill_uniform(p, 41, -0.5, 0.5);
  test::fill_uniform(wgt, 42);
  image_param_forward_cpu<double>(s, p, img);
  affine_resample_forward_cpu<double>(ts, pre, thetas, img, net);
  affine_resample_backward_cpu<double>(ts, pre, thetas, wgt, dimg);
  image_param_backward_cpu<double>(s, img, dimg, dp);
  auto loss = [&] {
    image_param_forward_cpu<double>(s, p, img);
    affine_resample_forward_cpu<double>(ts, pre, thetas, img, net);
    return test::weighted_sum(net, wgt);
  };
  // The resample is linear in the image (weights depend on theta only), so the chain is smooth;
  // the x255 scale makes gradients ~1e2, hence the relative tolerance carries it.
  EXPECT_TRUE(test::gradient_check(p, loss, dp, 0, 1e-6, 1e-6, 1e-6));
}

// ImageParam's float CPU path (both DFT passes as SGEMMs over twiddle matrices) against the
// double loops, forward and adjoint, batched (n = 2) on odd and even sizes.
TEST(ImageParam, FloatGemmPathMatchesDoubleReference) {
  for (auto [h, w] : {std::pair{7, 9}, std::pair{8, 6}, std::pair{33, 20}, std::pair{128, 128}}) {
    const ImageParamSpec s = spec_of(ParamKind::fourier, 2, h, w);
    OwnedTensorD pd(s.param_shape()), imgd(s.image_shape()), dimgd(s.image_shape()), dpd(s.param_shape());
    test::fill_uniform(pd, 51, -0.5, 0.5);  // |t| up to about 1 (small), 1.4 (128 px): sigmoid unsaturated
    test::fill_uniform(dimgd, 52);
    image_param_forward_cpu<double>(s, pd, imgd);
    image_param_backward_cpu<double>(s, imgd, dimgd, dpd);
    OwnedTensor p(s.param_shape()), img(s.image_shape()), dimg(s.image_shape()), dp(s.param_shape());
    for (int64_t k = 0; k < p.numel(); ++k) p.data()[k] = float(pd.data()[k]);
    for (int64_t k = 0; k < dimg.numel(); ++k) dimg.data()[k] = float(dimgd.data()[k]);
    ImageParam param(s, Device::cpu);
    param.forward(p, img);
    param.backward(img, dimg, dp);
    double img_err = 0, dp_err = 0, dp_max = 0, t_max = 0;
    for (int64_t k = 0; k < img.numel(); ++k) {
      img_err = std::max(img_err, std::abs(double(img.data()[k]) - imgd.data()[k]));
      t_max = std::max(t_max, std::abs(std::log(imgd.data()[k] / (1 - imgd.data()[k]))));
    }
    for (int64_t k = 0; k < dp.numel(); ++k) {
      dp_err = std::max(dp_err, std::abs(double(dp.data()[k]) - dpd.data()[k]));
      dp_max = std::max(dp_max, std::abs(dpd.data()[k]));
    }
    EXPECT_GT(t_max, 0.5) << h << "x" << w;  // the test is not confined to the sigmoid's linear middle
    // Float GEMMs summing 2H + 2Wh products each: measured at most 2.1e-7 (128 px) on the image in
    // [0, 1] and 2.7e-7 of the largest gradient; 1e-6 and 2e-6 leave a 5x margin, while a wrong
    // twiddle, sign or Hermitian weight is off by > 1e-2.
    EXPECT_LT(img_err, 1e-6) << h << "x" << w;
    EXPECT_LT(dp_err, 2e-6 * dp_max) << h << "x" << w;
    // The self-conjugate bins' imaginary parts get exactly zero gradient here too.
    for (int nc = 0; nc < 3 * s.n; ++nc)
      for (int ky : {0, h / 2})
        for (int kx : {0, w / 2}) {
          if ((ky != 0 && h % 2) || (kx != 0 && w % 2)) continue;
          EXPECT_EQ(dp.data()[((int64_t(nc) * h + ky) * s.wh() + kx) * 2 + 1], 0.f) << h << "x" << w;
        }
  }
}

TEST(ImageParam, SeededInitIsDeterministicAndHasTheRequestedSpread) {
  const ImageParamSpec s = spec_of(ParamKind::fourier, 2, 64, 64);
  ImageParam param(s, Device::cpu);
  OwnedTensor a(s.param_shape()), b(s.param_shape()), c(s.param_shape());
  param.init(a, 1234);
  param.init(b, 1234);
  param.init(c, 1235);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.numel())), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), sizeof(float) * size_t(a.numel())), 0);
  double sum = 0, sq = 0;
  for (int64_t k = 0; k < a.numel(); ++k) sum += a.data()[k], sq += double(a.data()[k]) * a.data()[k];
  const double mean = sum / double(a.numel()), sd = std::sqrt(sq / double(a.numel()) - mean * mean);
  // 26624 draws: the sample sd of a normal is within 2% of 0.01 and the mean within 3e-4 at
  // well over 5 standard errors.
  EXPECT_NEAR(sd, 0.01, 2e-4);
  EXPECT_NEAR(mean, 0.0, 3e-4);
  OwnedTensor i1(s.image_shape()), i2(s.image_shape());
  param.forward(a, i1);
  param.forward(b, i2);
  EXPECT_EQ(std::memcmp(i1.data(), i2.data(), sizeof(float) * size_t(i1.numel())), 0);
}

TEST(ImageParam, RejectsWrongShapesAndNames) {
  ImageParam param(spec_of(ParamKind::fourier, 1, 8, 8), Device::cpu);
  OwnedTensor p(Shape{1, 3, 8, 8}), img(Shape{1, 3, 8, 8});
  EXPECT_THROW(param.forward(p, img), Error);  // pixel-shaped parameters for a Fourier param
  EXPECT_THROW(parse_param_kind("wavelet"), Error);
  EXPECT_EQ(parse_param_kind("fft"), ParamKind::fourier);
}

}  // namespace
}  // namespace cuviz
