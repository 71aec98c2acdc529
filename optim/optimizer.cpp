// Adam and SGD on the CPU (the shared element updates in a parallel loop), gradient
// normalisation, and the dispatch to the fused CUDA kernels.
#include "optim/optimizer.h"

#include <cmath>

#include "core/check.h"

namespace cuviz {

AdamStep adam_step_scalars(const AdamConfig& c, int64_t t) {
  CUVIZ_CHECK(t >= 1, "adam: step ", t, " must be >= 1");
  return adam_step_at(c, t);
}

namespace {
void check_flat(const char* op, const Tensor& t, int64_t size, Device device, const char* what) {
  CUVIZ_CHECK(t.contiguous() && t.numel() == size, op, ": ", what, " must be dense with ", size, " elements, got ",
              t.shape().str());
  CUVIZ_CHECK(t.device() == device, op, ": ", what, " is on ", device_name(t.device()), ", the optimizer on ",
              device_name(device));
}
}  // namespace

void normalize_gradient(GradNorm kind, int segments, const Tensor& g) {
  if (kind == GradNorm::none) return;
  const int64_t n = g.numel();
  CUVIZ_CHECK(g.contiguous(), "normalize_gradient: gradient must be dense, got ", g.shape().str());
  CUVIZ_CHECK(segments > 0 && n % segments == 0, "normalize_gradient: ", n, " elements do not split into ", segments,
              " segments");
  if (g.device() == Device::cuda) return normalize_gradient_cuda(kind, segments, g.data(), n);
  const int64_t len = n / segments;
  for (int s = 0; s < segments; ++s) {
    float* p = g.data() + s * len;
    double acc = 0;
    for (int64_t k = 0; k < len; ++k) acc += kind == GradNorm::l2 ? double(p[k]) * p[k] : std::abs(double(p[k]));
    const double norm = kind == GradNorm::l2 ? std::sqrt(acc) : acc / double(len);
    const float inv = float(1.0 / (norm + 1e-8));
    for (int64_t k = 0; k < len; ++k) p[k] *= inv;
  }
}

Adam::Adam(int64_t size, Device device, AdamConfig config)
    : size_(size), device_(device), config_(config), m_(Shape{1, 1, 1, int(size)}, device),
      v_(Shape{1, 1, 1, int(size)}, device) {
  CUVIZ_CHECK(size > 0 && size < (int64_t(1) << 31), "adam: parameter count ", size, " out of range");
  CUVIZ_CHECK(config.lr > 0 && config.beta1 >= 0 && config.beta1 < 1 && config.beta2 >= 0 && config.beta2 < 1 &&
                  config.eps > 0,
              "adam: invalid settings lr=", config.lr, " betas=(", config.beta1, ", ", config.beta2, ") eps=",
              config.eps);
  reset();
}

void Adam::reset() {
  fill(m_, 0.f);
  fill(v_, 0.f);
  t_ = 0;
}

void Adam::step(const Tensor& params, const Tensor& grads) {
  check_flat("adam", params, size_, device_, "params");
  check_flat("adam", grads, size_, device_, "grads");
  const AdamStep s = adam_step_scalars(config_, ++t_);
  if (device_ == Device::cuda) return adam_update_cuda(params.data(), grads.data(), m_.data(), v_.data(), size_, s);
  update_cpu(params, grads, s);
}

void Adam::step_counted(const Tensor& params, const Tensor& grads, const int64_t* steps_done) {
  check_flat("adam", params, size_, device_, "params");
  check_flat("adam", grads, size_, device_, "grads");
  CUVIZ_CHECK(steps_done != nullptr, "adam: no step counter");
  if (device_ == Device::cuda)
    return adam_update_counted_cuda(params.data(), grads.data(), m_.data(), v_.data(), size_, config_, steps_done);
  update_cpu(params, grads, adam_step_scalars(config_, *steps_done + 1));
}

void Adam::update_cpu(const Tensor& params, const Tensor& grads, const AdamStep& s) {
  float *p = params.data(), *m = m_.data(), *v = v_.data();
  const float* g = grads.data();
#pragma omp parallel for simd schedule(static) if (size_ > 65536)
  for (int64_t k = 0; k < size_; ++k) adam_update(p[k], g[k], m[k], v[k], s);
}

Sgd::Sgd(int64_t size, Device device, SgdConfig config)
    : size_(size), device_(device), config_(config), buf_(Shape{1, 1, 1, int(size)}, device) {
  CUVIZ_CHECK(size > 0 && size < (int64_t(1) << 31), "sgd: parameter count ", size, " out of range");
  CUVIZ_CHECK(config.lr > 0 && config.momentum >= 0, "sgd: invalid settings lr=", config.lr,
              " momentum=", config.momentum);
  CUVIZ_CHECK(!config.nesterov || (config.momentum > 0 && config.dampening == 0),
              "sgd: nesterov needs momentum > 0 and zero dampening");
  fill(buf_, 0.f);
}

void Sgd::step(const Tensor& params, const Tensor& grads) {
  check_flat("sgd", params, size_, device_, "params");
  check_flat("sgd", grads, size_, device_, "grads");
  const bool first = t_++ == 0;
  float *p = params.data(), *b = buf_.data();
  const float* g = grads.data();
  if (device_ == Device::cuda) return sgd_update_cuda(p, g, b, size_, first, config_);
#pragma omp parallel for simd schedule(static) if (size_ > 65536)
  for (int64_t k = 0; k < size_; ++k) sgd_update(p[k], g[k], b[k], first, config_);
}

}  // namespace cuviz
