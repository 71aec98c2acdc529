// Batch normalization (inference) on the CPU and the dispatch to CUDA, and its folding into a
// preceding convolution:  y = scale_c (x - mean_c) / sqrt(var_c + eps) + bias_c = a_c x + b_c,
// dx = a_c dy. Derivation: docs/backprop/pool_lrn_softmax_bn.md#batch-normalization.
#include "kernels/batchnorm.h"

#include <cmath>
#include <vector>

#include "core/check.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

namespace {

// Throws unless the four statistics are defined {1, C, 1, 1} tensors on `device`.
void check_weights(const char* op, const BatchNormWeights& bn, int C, Device device) {
  const Shape want{1, C, 1, 1};
  const std::pair<const char*, const Tensor*> ws[] = {
      {"scale", &bn.scale}, {"bias", &bn.bias}, {"mean", &bn.mean}, {"var", &bn.var}};
  for (auto [name, t] : ws) {
    CUVIZ_CHECK(t->defined(), op, ": ", name, " has no data");
    check_shape(op, name, *t, want);
    CUVIZ_CHECK(t->device() == device, op, ": ", name, " is on ", device_name(t->device()), ", the data on ",
                device_name(device));
  }
  CUVIZ_CHECK(bn.eps >= 0.f, op, ": negative eps ", bn.eps);
}

// a_c = scale_c / sqrt(var_c + eps) and b_c = bias_c - a_c mean_c (CPU weights). A variance
// with var + eps <= 0 is a corrupt model, not a number to propagate.
void affine_of(const char* op, const BatchNormWeights& bn, std::vector<float>& a, std::vector<float>& b) {
  const int C = bn.scale.c();
  a.resize(C);
  b.resize(C);
  for (int c = 0; c < C; ++c) {
    const float v = bn.var.data()[c] + bn.eps;
    CUVIZ_CHECK(v > 0.f, op, ": channel ", c, " has var + eps = ", v, " <= 0");
    a[c] = bn.scale.data()[c] / std::sqrt(v);
    b[c] = bn.bias.data()[c] - a[c] * bn.mean.data()[c];
  }
}

// y[n, c] = a_c x[n, c] + b_c over planes, in parallel over (n, c). y may be x.
void per_channel_affine(const std::vector<float>& a, const std::vector<float>* b, const Tensor& x, const Tensor& y) {
  const int C = x.c();
  const int64_t HW = int64_t(x.h()) * x.w();
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > 32768)
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < C; ++c) {
      const float* xp = x.image(n) + c * HW;
      float* yp = y.image(n) + c * HW;
      const float ac = a[c], bc = b ? (*b)[c] : 0.f;
      for (int64_t k = 0; k < HW; ++k) yp[k] = ac * xp[k] + bc;
    }
}

}  // namespace

template <class T>
void batchnorm_forward_reference(const BatchNormWeights& bn, const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_nonempty("batchnorm_forward", "x", x);
  check_shape("batchnorm_forward", "y", y, x.shape());
  check_weights("batchnorm_forward", bn, x.c(), Device::cpu);
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c)
      for (int h = 0; h < x.h(); ++h)
        for (int w = 0; w < x.w(); ++w)
          y.at(n, c, h, w) = T(bn.scale.data()[c]) * (x.at(n, c, h, w) - T(bn.mean.data()[c])) /
                                 std::sqrt(T(bn.var.data()[c]) + T(bn.eps)) +
                             T(bn.bias.data()[c]);
}

template void batchnorm_forward_reference<float>(const BatchNormWeights&, const Tensor&, const Tensor&);
template void batchnorm_forward_reference<double>(const BatchNormWeights&, const TensorD&, const TensorD&);

void batchnorm_forward(const BatchNormWeights& bn, const Tensor& x, const Tensor& y) {
  check_nonempty("batchnorm_forward", "x", x);
  check_shape("batchnorm_forward", "y", y, x.shape());
  const Device d = check_same_device<float>("batchnorm_forward", {&x, &y});
  check_weights("batchnorm_forward", bn, x.c(), d);
  if (d == Device::cuda) return batchnorm_forward_cuda(bn, x, y);
  std::vector<float> a, b;
  affine_of("batchnorm_forward", bn, a, b);
  per_channel_affine(a, &b, x, y);
}

void batchnorm_backward_data(const BatchNormWeights& bn, const Tensor& dy, const Tensor& dx) {
  check_nonempty("batchnorm_backward_data", "dy", dy);
  check_shape("batchnorm_backward_data", "dx", dx, dy.shape());
  const Device d = check_same_device<float>("batchnorm_backward_data", {&dy, &dx});
  check_weights("batchnorm_backward_data", bn, dy.c(), d);
  if (d == Device::cuda) return batchnorm_backward_data_cuda(bn, dy, dx);
  std::vector<float> a, b;
  affine_of("batchnorm_backward_data", bn, a, b);
  per_channel_affine(a, nullptr, dy, dx);
}

void batchnorm_fold_into_conv(const BatchNormWeights& bn, const Tensor& w, const Tensor& b) {
  const char* op = "batchnorm_fold_into_conv";
  check_nonempty(op, "w", w);
  CUVIZ_CHECK(b.defined(), op, ": the conv needs a bias tensor to receive the folded shift (pass zeros)");
  check_shape(op, "b", b, Shape{1, w.n(), 1, 1});
  CUVIZ_CHECK(w.device() == Device::cpu && b.device() == Device::cpu, op, ": weights must be on the cpu");
  check_weights(op, bn, w.n(), Device::cpu);
  std::vector<float> a, shift;
  affine_of(op, bn, a, shift);
  // bn(conv(x, w) + b_o) = a_o conv(x, w) + a_o b_o + shift_o, and conv is linear in w.
  const int64_t per_output = w.shape().image_size();
  for (int o = 0; o < w.n(); ++o) {
    float* wo = w.image(o);
    for (int64_t k = 0; k < per_output; ++k) wo[k] *= a[o];
    b.data()[o] = a[o] * b.data()[o] + shift[o];
  }
}

}  // namespace cuviz
