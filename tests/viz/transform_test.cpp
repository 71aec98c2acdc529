// Transforms: the composed affine resample + preprocessing against torch's affine_grid /
// grid_sample (fixture), the adjoint dot-product identity, exact pixel shifts, the random draws
// (ranges, coverage, determinism), and the `none` transform.
#include "viz/transform.h"

#include <cstring>
#include <set>
#include <vector>

#include "test_util.h"
#include "viz_fixtures.h"

namespace cuviz {
namespace {

TEST(Transform, AffineResampleMatchesTorchGridSample) {
  TransformSpec ts = TransformSpec::standard();
  ts.pad = 3;
  std::vector<Affine> thetas(2);
  for (int i = 0; i < 2; ++i) std::memcpy(thetas[i].t, fixture::kAffineTheta + 6 * i, sizeof(thetas[i].t));
  OwnedTensor img(Shape{2, 3, 10, 10}), out(img.shape()), ref(img.shape());
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 10; ++y)
        for (int x = 0; x < 10; ++x) img.at(n, c, y, x) = float(0.5 + 0.4 * std::sin(0.3 * y + 0.7 * x + 1.1 * c + n));
  affine_resample_forward_cpu<float>(ts, Preprocess::from_meta(ModelMeta{}), thetas, img, out);
  std::memcpy(ref.data(), fixture::kAffineOut, sizeof(float) * size_t(ref.numel()));
  // Sampling coordinates differ from torch's by float rounding (~1e-6 px: torch builds the grid
  // by linspace and a matmul); the image changes by < 0.5 per px on a x255 scale, so outputs
  // agree to ~1e-4 + rounding of values ~128 (1e-5). 1e-3 catches any half-pixel or border
  // convention error (those move values by > 1).
  EXPECT_TRUE(test::all_close(out, ref, 1e-3));
}

TEST(Transform, AdjointDotProduct) {
  for (bool enabled : {true, false})
    for (auto [h, w] : {std::pair{16, 16}, std::pair{9, 13}}) {
      TransformSpec ts = enabled ? TransformSpec::standard() : TransformSpec::none();
      std::vector<Affine> thetas(3);
      draw_affines(ts, h, w, 99, 5, thetas);
      Preprocess pre = Preprocess::from_meta(ModelMeta{});
      for (float& o : pre.offset) o = 0.f;  // the adjoint is of the linear part
      OwnedTensor x(Shape{3, 3, h, w}), y(x.shape()), ax(x.shape()), aty(x.shape());
      test::fill_uniform(x, 1);
      test::fill_uniform(y, 2);
      ts.pad_value = 0.f;  // the constant canvas is affine too; make it linear
      affine_resample_forward_cpu<float>(ts, pre, thetas, x, ax);
      affine_resample_backward_cpu<float>(ts, pre, thetas, y, aty);
      double lhs = 0, rhs = 0, mag = 0;
      for (int64_t k = 0; k < x.numel(); ++k) {
        lhs += double(ax.data()[k]) * y.data()[k];
        rhs += double(x.data()[k]) * aty.data()[k];
        mag += std::abs(double(ax.data()[k]) * y.data()[k]);
      }
      // Float products of <= 4 taps per output: relative error ~1e-7 of sum |terms|.
      EXPECT_NEAR(lhs, rhs, 1e-6 * mag) << "enabled " << enabled << " " << h << "x" << w;
    }
}

TEST(Transform, GatherAdjointOfTheCudaKernelEqualsTheScatter) {
  // affine_adjoint_gather_at is what the CUDA backward runs; check it here against the CPU scatter,
  // in double: the same products summed in another order, so any missing or extra tap shows up
  // far above 1e-12. (In float the two differ by ~1e-6 because the library is built with FMA
  // contraction and the test is not: sampling coordinates carry (W + 2 pad) / 2 ulps of error.)
  for (int pad : {12, 1})
    for (auto [h, w] : {std::pair{16, 16}, std::pair{9, 13}}) {
      TransformSpec ts = TransformSpec::standard();
      ts.pad = pad;
      std::vector<Affine> thetas(4);
      draw_affines(ts, h, w, 3, 17, thetas);
      Preprocess id;
      OwnedTensorD dout(Shape{4, 3, h, w}), scatter(dout.shape());
      test::fill_uniform(dout, 9);
      affine_resample_backward_cpu<double>(ts, id, thetas, dout, scatter);
      for (int n = 0; n < 4; ++n)
        for (int c = 0; c < 3; ++c)
          for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
              const double got = affine_adjoint_gather_at(thetas[n], dout.image(n) + c * h * w, y, x, h, w, pad);
              ASSERT_NEAR(got, scatter.at(n, c, y, x), 1e-12) << "pad " << pad << " at " << n << "," << c << ","
                                                             << y << "," << x;
            }
    }
}

TEST(Transform, PureIntegerShiftMovesPixelsExactly) {
  // Identity rotation/scale with the window inside the padded canvas, then shift by (2, -1) px.
  TransformSpec ts = TransformSpec::standard();
  ts.pad = 4;
  const int h = 6, w = 8, hp = h + 8, wp = w + 8;
  Affine a;
  a.t[0] = float(w) / wp;
  a.t[1] = 0.f;
  a.t[2] = 2.f * 2.f / wp;
  a.t[3] = 0.f;
  a.t[4] = float(h) / hp;
  a.t[5] = -1.f * 2.f / hp;
  OwnedTensor img(Shape{1, 3, h, w}), out(img.shape());
  test::fill_uniform(img, 3, 0.0, 1.0);
  Preprocess id;
  affine_resample_forward_cpu<float>(ts, id, std::vector<Affine>{a}, img, out);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int sy = y - 1, sx = x + 2;
        const float want = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? img.at(0, c, sy, sx) : 0.5f;
        // Coordinates land on pixel centres up to float rounding (~1e-6 px).
        ASSERT_NEAR(out.at(0, c, y, x), want, 1e-5) << c << "," << y << "," << x;
      }
}

TEST(Transform, DrawsCoverLucidsRangesAndAreDeterministic) {
  const TransformSpec ts = TransformSpec::standard();
  const int size = 128;
  const double padded = size + 24.0;
  std::set<int> scales, angles, shifts;
  for (uint64_t step = 0; step < 200; ++step)
    for (int i = 0; i < 8; ++i) {
      const Affine a = draw_affine(ts, size, size, 42, step, i);
      const Affine b = draw_affine(ts, size, size, 42, step, i);
      ASSERT_EQ(std::memcmp(&a, &b, sizeof(a)), 0);
      // theta[:2] = R(r) / s * size / padded: recover s and r.
      const double m00 = a.t[0] * padded / size, m10 = a.t[3] * padded / size;
      const double s = 1.0 / std::hypot(m00, m10), r = std::atan2(m10, m00) * 180.0 / 3.14159265358979323846;
      const int si = int(std::lround((s - 1.0) * 50 + 5)), ri = int(std::lround(r));
      ASSERT_NEAR(s, 1.0 + (si - 5) / 50.0, 1e-5);
      ASSERT_NEAR(r, ri, 1e-3);
      scales.insert(si);
      angles.insert(ri);
      const double jx = a.t[2] * padded / 2;
      ASSERT_NEAR(jx, std::lround(jx), 1e-4);
      shifts.insert(int(std::lround(jx)));
    }
  EXPECT_EQ(scales.size(), 11u);
  EXPECT_EQ(*scales.begin(), 0);
  EXPECT_EQ(*scales.rbegin(), 10);
  EXPECT_EQ(angles.size(), 21u);
  EXPECT_EQ(*angles.begin(), -10);
  EXPECT_EQ(shifts.size(), 25u);  // jitter(8) + jitter(4): -12..12
  EXPECT_EQ(*shifts.begin(), -12);
  const Affine a = draw_affine(ts, size, size, 42, 0, 0), b = draw_affine(ts, size, size, 42, 1, 0),
               c = draw_affine(ts, size, size, 43, 0, 0);
  EXPECT_NE(std::memcmp(&a, &b, sizeof(a)), 0);  // fresh draws per step
  EXPECT_NE(std::memcmp(&a, &c, sizeof(a)), 0);  // and per seed
}

TEST(Transform, StepForwardIsDeterministicAndNoneIsPreprocessingOnly) {
  OwnedTensor img(Shape{2, 3, 12, 12}), a(img.shape()), b(img.shape());
  test::fill_uniform(img, 4, 0.0, 1.0);
  const Preprocess pre = Preprocess::from_meta(ModelMeta{});
  transform_forward(TransformSpec::standard(), pre, 7, 11, img, a);
  transform_forward(TransformSpec::standard(), pre, 7, 11, img, b);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.numel())), 0);
  transform_forward(TransformSpec::none(), pre, 7, 11, img, a);
  // RGB -> BGR, x255, minus the Caffe mean; FLOAT_EQ (4 ulps) because the library's multiply-add
  // may be contracted into one FMA.
  for (int c = 0; c < 3; ++c)
    EXPECT_FLOAT_EQ(a.at(1, c, 3, 5), img.at(1, 2 - c, 3, 5) * 255.f - ModelMeta{}.mean[c]);
  OwnedTensor dout(img.shape()), dimg(img.shape());
  test::fill_uniform(dout, 5);
  transform_backward(TransformSpec::none(), pre, 7, 11, dout, dimg);
  EXPECT_EQ(dimg.at(0, 2, 1, 1), dout.at(0, 0, 1, 1) * 255.f);
}

TEST(Transform, RejectsBadSettings) {
  OwnedTensor img(Shape{1, 3, 8, 8}), out(Shape{1, 3, 8, 9});
  EXPECT_THROW(transform_forward(TransformSpec::standard(), Preprocess{}, 0, 0, img, out), Error);
  TransformSpec empty;
  EXPECT_THROW(transform_forward(empty, Preprocess{}, 0, 0, img, img), Error);  // no scales/angles
  EXPECT_THROW(TransformSpec::parse("crop"), Error);
}

}  // namespace
}  // namespace cuviz
