// Gram matrices and the style loss (kernels/gram.h): the definitions written out on a tiny case,
// central differences on the double reference (the Gram backward through a random projection,
// the style loss's dE/dF under both normalisations), the fast CPU path against the float
// reference on random and batch-strided shapes, the fused backward's accumulation and weights,
// the two normalisations' relation, bad inputs.
#include "kernels/gram.h"

#include <cmath>
#include <vector>

#include "test_util.h"

namespace cuviz {
namespace {

TEST(Gram, DefinitionsWrittenOut) {
  // F = [[1, 2], [3, 4]] (C = 2 channels of 1 x 2 pixels): F F^T = [[5, 11], [11, 25]].
  OwnedTensor f(Shape{1, 2, 1, 2}), g(Shape{1, 2, 2, 1});
  const float v[] = {1, 2, 3, 4};
  std::copy(v, v + 4, f.data());
  gram_forward(GramNorm::gatys, f, g);
  EXPECT_FLOAT_EQ(g.data()[0], 5.f);
  EXPECT_FLOAT_EQ(g.data()[1], 11.f);
  EXPECT_FLOAT_EQ(g.data()[2], 11.f);
  EXPECT_FLOAT_EQ(g.data()[3], 25.f);
  gram_forward(GramNorm::chw, f, g);  // divided by C*H*W = 4
  EXPECT_FLOAT_EQ(g.data()[1], 11.f / 4);
  // Style loss against T = 0: chw = mean of G^2 over the 4 entries; gatys = sum (FF^T)^2 / (4 C^2 M^2).
  OwnedTensor t(Shape{1, 2, 2, 1});
  fill(t, 0.f);
  float e = 0;
  style_loss_forward(GramNorm::chw, f, t, g, &e, nullptr);
  EXPECT_NEAR(e, (25 + 121 + 121 + 625) / 16.0 / 4.0, 1e-5);
  style_loss_forward(GramNorm::gatys, f, t, g, &e, nullptr);
  EXPECT_NEAR(e, (25 + 121 + 121 + 625) / (4.0 * 4 * 4), 1e-4);
  EXPECT_DOUBLE_EQ(gram_divisor(GramNorm::chw, 3, 4, 5), 60);
  EXPECT_DOUBLE_EQ(style_loss_scale(GramNorm::gatys, 3, 4, 5), 1.0 / (4 * 9 * 400));
}

TEST(Gram, BackwardByCentralDifferences) {
  for (GramNorm n : {GramNorm::chw, GramNorm::gatys}) {
    SCOPED_TRACE(gram_norm_name(n));
    OwnedTensorD f(Shape{2, 5, 3, 4}), g(Shape{2, 5, 5, 1}), w(g.shape()), df(f.shape());
    test::fill_uniform<double>(f, 1);
    test::fill_uniform<double>(w, 2);  // NOT symmetric: the backward must use dG + dG^T
    gram_backward_reference(n, TensorD(f), TensorD(w), TensorD(df));
    auto loss = [&] {
      gram_forward_reference(n, TensorD(f), TensorD(g));
      return test::weighted_sum(g, w);
    };
    EXPECT_TRUE(test::gradient_check(f, loss, df, 0, 1e-6, 1e-8, 1e-6));
  }
}

TEST(Gram, StyleLossGradientByCentralDifferences) {
  for (GramNorm n : {GramNorm::chw, GramNorm::gatys}) {
    SCOPED_TRACE(gram_norm_name(n));
    OwnedTensorD f(Shape{2, 4, 3, 5}), t(Shape{1, 4, 4, 1}), df(f.shape());
    test::fill_uniform<double>(f, 3);
    test::fill_uniform<double>(t, 4, -0.2, 0.2);
    double e[2];
    style_loss_reference(n, TensorD(f), TensorD(t), e, TensorD(df));
    // The loss of both images summed: each image's gradient is its own.
    auto loss = [&] {
      double l[2];
      style_loss_reference(n, TensorD(f), TensorD(t), l, TensorD());
      return l[0] + l[1];
    };
    // gatys's scale 1/(4 C^2 M^2) makes E tiny: tolerances relative to it.
    const double atol = n == GramNorm::gatys ? 1e-12 : 1e-9;
    EXPECT_TRUE(test::gradient_check(f, loss, df, 0, 1e-6, atol, 1e-6));
  }
}

TEST(Gram, NormalisationsDifferByFourOverCSquared) {
  OwnedTensor f(Shape{1, 6, 4, 3}), t(Shape{1, 6, 6, 1}), g(t.shape());
  test::fill_uniform(f, 5);
  test::fill_uniform(t, 6, -0.1, 0.1);
  float e_chw = 0, e_gatys = 0;
  style_loss_forward(GramNorm::chw, f, t, g, &e_chw, nullptr);
  // The same target in gatys's units (T' = T * C * M).
  OwnedTensor t2(t.shape());
  for (int k = 0; k < 36; ++k) t2.data()[k] = t.data()[k] * 6 * 12;
  style_loss_forward(GramNorm::gatys, f, t2, g, &e_gatys, nullptr);
  EXPECT_NEAR(e_chw, 4.0 * e_gatys / 36, 1e-5 * e_chw);
}

TEST(Gram, FastMatchesReferenceOnRandomAndStridedShapes) {
  const Shape shapes[] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 16, 9, 11}, {1, 64, 14, 14}};
  int seed = 10;
  for (const Shape& s : shapes)
    for (GramNorm n : {GramNorm::chw, GramNorm::gatys})
      for (bool strided : {false, true}) {
        SCOPED_TRACE(cat(s.str(), " ", gram_norm_name(n), strided ? " strided" : ""));
        // A channel slice of a wider tensor: images 2C channels apart, as inside a concat.
        OwnedTensor wide(Shape{s.n, 2 * s.c, s.h, s.w});
        test::fill_uniform(wide, ++seed);
        OwnedTensor dense(s);
        const Tensor f = strided ? wide.channels(s.c / 2, s.c) : Tensor(dense);
        if (!strided) test::fill_uniform(dense, seed);
        OwnedTensor g(Shape{s.n, s.c, s.c, 1}), want(g.shape());
        gram_forward(n, f, g);
        gram_forward_reference(n, f, Tensor(want));
        EXPECT_TRUE(test::all_close(g, want, 1e-5, 1e-4));

        OwnedTensor dg(g.shape()), df(f.shape()), want_df(f.shape());
        test::fill_uniform(dg, ++seed);
        gram_backward(n, f, dg, df);
        gram_backward_reference(n, f, Tensor(dg), Tensor(want_df));
        EXPECT_TRUE(test::all_close(df, want_df, 1e-5, 1e-4));

        // The fused loss: values at the slots, and dF ADDED with each image's weight.
        OwnedTensor t(Shape{1, s.c, s.c, 1}), scratch(g.shape());
        test::fill_uniform(t, ++seed, -0.1, 0.1);
        std::vector<float> values(size_t(s.n) + 3, -1.f), weights(values.size(), 0.f);
        std::vector<int> slots;
        for (int i = 0; i < s.n; ++i) {
          slots.push_back(s.n - i + 1);  // reversed, offset
          weights[size_t(s.n - i + 1)] = 0.5f + i;
        }
        style_loss_forward(n, f, t, g, values.data(), slots.data());
        std::vector<float> e(size_t(s.n));
        OwnedTensor ref_df(f.shape());
        style_loss_reference(n, f, Tensor(t), e.data(), Tensor(ref_df));
        OwnedTensor acc(f.shape());
        test::fill_uniform(acc, ++seed);
        OwnedTensor before(f.shape());
        copy(acc, before);
        style_loss_backward(n, f, g, t, weights.data(), slots.data(), acc, scratch);
        for (int i = 0; i < s.n; ++i) {
          EXPECT_NEAR(values[size_t(slots[size_t(i)])], e[size_t(i)], 1e-5 * std::fabs(e[size_t(i)]) + 1e-12);
          const float w = weights[size_t(slots[size_t(i)])];
          double err = 0, scale = 0;
          for (int64_t k = 0; k < f.shape().image_size(); ++k) {
            const double want_k = before.image(i)[k] + w * ref_df.image(i)[k];
            err = std::max(err, std::fabs(acc.image(i)[k] - want_k));
            scale = std::max(scale, std::fabs(double(w) * ref_df.image(i)[k]));
          }
          EXPECT_LE(err, 1e-5 * (1 + scale)) << "image " << i;
        }
        EXPECT_EQ(values[0], -1.f) << "no write outside the slots";
      }
}

TEST(Gram, RejectsBadShapes) {
  OwnedTensor f(Shape{2, 3, 4, 4}), g(Shape{2, 3, 3, 1}), bad(Shape{1, 3, 3, 1});
  EXPECT_THROW(gram_forward(GramNorm::chw, f, bad), Error);
  OwnedTensor t(Shape{1, 4, 4, 1});
  float v[2];
  EXPECT_THROW(style_loss_forward(GramNorm::chw, f, t, g, v, nullptr), Error);
  OwnedTensor df(Shape{2, 3, 4, 5});
  EXPECT_THROW(gram_backward(GramNorm::chw, f, g, df), Error);
}

}  // namespace
}  // namespace cuviz
