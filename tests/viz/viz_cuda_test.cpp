// GPU against CPU for the viz/optim kernels: parameterization forward/backward (both kinds),
// the composed transform and its gather adjoint, regularizers, Adam. Skips without a GPU.
#include <cstring>

#include "optim/optimizer.h"
#include "test_util.h"
#include "viz/fourier_param.h"
#include "viz/regularizers.h"
#include "viz/transform.h"

namespace cuviz {
namespace {

OwnedTensor to_gpu(const Tensor& t) {
  OwnedTensor d(t.shape(), Device::cuda);
  copy(t, d);
  return d;
}
OwnedTensor to_cpu(const Tensor& t) {
  OwnedTensor h(t.shape());
  copy(t, h);
  return h;
}

TEST(VizCuda, ImageParamMatchesCpu) {
  CUVIZ_REQUIRE_GPU();
  for (ParamKind kind : {ParamKind::fourier, ParamKind::pixel}) {
    ImageParamSpec s;
    s.kind = kind;
    s.n = 2;
    s.h = 24;
    s.w = 17;
    ImageParam cpu(s, Device::cpu), gpu(s, Device::cuda);
    OwnedTensor p(s.param_shape()), img(s.image_shape()), dimg(s.image_shape()), dp(s.param_shape());
    cpu.init(p, 5, 0.5f);
    test::fill_uniform(dimg, 6);
    cpu.forward(p, img);
    cpu.backward(img, dimg, dp);
    OwnedTensor gp = to_gpu(p), gimg(s.image_shape(), Device::cuda), gdimg = to_gpu(dimg),
                gdp(s.param_shape(), Device::cuda);
    gpu.forward(gp, gimg);
    gpu.backward(gimg, gdimg, gdp);
    // Same float maths in the same order; only expf/sqrt/FMA rounding can differ (few ulps).
    EXPECT_TRUE(test::all_close(to_cpu(gimg), img, 1e-6)) << param_kind_name(kind);
    EXPECT_TRUE(test::all_close(to_cpu(gdp), dp, 1e-5, 1e-5)) << param_kind_name(kind);
  }
}

TEST(VizCuda, TransformAndAdjointMatchCpu) {
  CUVIZ_REQUIRE_GPU();
  const Preprocess pre = Preprocess::from_meta(ModelMeta{});
  for (bool enabled : {true, false}) {
    const TransformSpec ts = enabled ? TransformSpec::standard() : TransformSpec::none();
    OwnedTensor img(Shape{3, 3, 32, 40}), out(img.shape()), dout(img.shape()), dimg(img.shape());
    test::fill_uniform(img, 7, 0.0, 1.0);
    test::fill_uniform(dout, 8);
    transform_forward(ts, pre, 9, 4, img, out);
    transform_backward(ts, pre, 9, 4, dout, dimg);
    OwnedTensor gimg = to_gpu(img), gout(img.shape(), Device::cuda), gdout = to_gpu(dout),
                gdimg(img.shape(), Device::cuda);
    transform_forward(ts, pre, 9, 4, gimg, gout);
    transform_backward(ts, pre, 9, 4, gdout, gdimg);
    // cosf/sinf of the angle may differ by an ulp between host and device: coordinates move by
    // ~1e-6 px, values (x255) by ~1e-3; the adjoint sums <= ~6 weighted taps in another order.
    EXPECT_TRUE(test::all_close(to_cpu(gout), out, 2e-3, 1e-5)) << enabled;
    EXPECT_TRUE(test::all_close(to_cpu(gdimg), dimg, 2e-3, 1e-5)) << enabled;
  }
}

TEST(VizCuda, RegularizersMatchCpu) {
  CUVIZ_REQUIRE_GPU();
  for (RegKind kind : {RegKind::l1, RegKind::l2, RegKind::tv, RegKind::blur, RegKind::tv2}) {
    OwnedTensor img(Shape{2, 3, 20, 30}), vals(Shape{2, 1, 1, 1}), d(img.shape());
    test::fill_uniform(img, 10, 0.0, 1.0);
    fill(d, 0.5f);
    OwnedTensor gimg = to_gpu(img), gvals(vals.shape(), Device::cuda), gd = to_gpu(d);
    regularizer_forward_backward(kind, 0.5f, img, vals, -0.25f, d);
    regularizer_forward_backward(kind, 0.5f, gimg, gvals, -0.25f, gd);
    // Values: double sums in another order, then rounded to float.
    EXPECT_TRUE(test::all_close(to_cpu(gvals), vals, 0.0, 1e-6)) << reg_kind_name(kind);
    EXPECT_TRUE(test::all_close(to_cpu(gd), d, 1e-6)) << reg_kind_name(kind);
  }
}

TEST(VizCuda, AdamMatchesCpu) {
  CUVIZ_REQUIRE_GPU();
  const int n = 1000;
  OwnedTensor p(Shape{1, 1, 1, n}), g(p.shape());
  test::fill_uniform(p, 11);
  OwnedTensor gp = to_gpu(p);
  Adam cpu(n, Device::cpu), gpu(n, Device::cuda);
  for (int t = 0; t < 3; ++t) {
    test::fill_uniform(g, 12 + t);
    OwnedTensor gg = to_gpu(g);
    cpu.step(p, g);
    gpu.step(gp, gg);
  }
  EXPECT_TRUE(test::all_close(to_cpu(gp), p, 1e-6));  // sqrtf and FMA may differ by an ulp
}

}  // namespace
}  // namespace cuviz
