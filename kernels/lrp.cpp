// The LRP element-wise steps on the CPU (image by image, each tensor with its own batch stride),
// and the dispatch to CUDA by the tensors' device.
#include "kernels/lrp.h"

#include "core/check.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

namespace {

// y[k] = f(a[k], b[k], c[k]) over every image; a tensor argument may be undefined when f ignores it.
template <class F>
void map3(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& y, F f) {
  const int64_t m = y.shape().image_size();
  for (int i = 0; i < y.n(); ++i) {
    const float* ai = a.defined() ? a.image(i) : nullptr;
    const float* bi = b.defined() ? b.image(i) : nullptr;
    const float* ci = c.defined() ? c.image(i) : nullptr;
    float* yi = y.image(i);
#pragma omp parallel for schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) yi[k] = f(ai ? ai[k] : 0.f, bi ? bi[k] : 0.f, ci ? ci[k] : 0.f);
  }
}

}  // namespace

void lrp_divide(const Tensor& r, const Tensor& den, const Tensor& z, int z_sign, float eps, const Tensor& y) {
  check_shape("lrp_divide", "den", den, r.shape());
  check_shape("lrp_divide", "y", y, r.shape());
  CUVIZ_CHECK(z_sign == 0 || z.defined(), "lrp_divide: a gate on the sign of z needs z");
  if (z_sign != 0) check_shape("lrp_divide", "z", z, r.shape());
  if (check_same_device<float>("lrp_divide", {&r, &den, &z, &y}) == Device::cuda)
    return lrp_divide_cuda(r, den, z, z_sign, eps, y);
  map3(r, den, z_sign != 0 ? z : Tensor(), y,
       [=](float rv, float dv, float zv) { return lrp_ratio(rv, dv, zv, z_sign, eps); });
}

void lrp_clamp(const Tensor& x, int sign, const Tensor& y) {
  check_shape("lrp_clamp", "y", y, x.shape());
  if (check_same_device<float>("lrp_clamp", {&x, &y}) == Device::cuda) return lrp_clamp_cuda(x, sign, y);
  map3(x, Tensor(), Tensor(), y, [=](float v, float, float) { return lrp_clamp_value(v, sign); });
}

void lrp_multiply(const Tensor& a, const Tensor& c, float coef, bool accumulate, const Tensor& y) {
  check_shape("lrp_multiply", "c", c, a.shape());
  check_shape("lrp_multiply", "y", y, a.shape());
  if (check_same_device<float>("lrp_multiply", {&a, &c, &y}) == Device::cuda)
    return lrp_multiply_cuda(a, c, coef, accumulate, y);
  if (accumulate)
    map3(a, c, y, y, [=](float av, float cv, float yv) { return yv + coef * av * cv; });
  else
    map3(a, c, Tensor(), y, [=](float av, float cv, float) { return coef * av * cv; });
}

void lrp_axpy(float alpha, const Tensor& x, const Tensor& y) {
  check_shape("lrp_axpy", "y", y, x.shape());
  if (check_same_device<float>("lrp_axpy", {&x, &y}) == Device::cuda) return lrp_axpy_cuda(alpha, x, y);
  map3(x, y, Tensor(), y, [=](float xv, float yv, float) { return yv + alpha * xv; });
}

}  // namespace cuviz
