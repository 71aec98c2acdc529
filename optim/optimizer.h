// First-order optimizers over one flat parameter buffer (every image of a batch at once), with
// exactly torch.optim's update arithmetic, on the CPU and in one fused CUDA kernel:
//   Adam: m <- m + (1-b1)(g - m);  v <- b2 v + (1-b2) g^2;
//         p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   SGD : buf <- g (first step) or mu buf + (1 - dampening) g;  p <- p - lr (nesterov ? g + mu buf : buf)
// Optional gradient normalisation per segment (e.g. per image): g / (mean|g| + 1e-8) or g / (||g|| + 1e-8).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"

namespace cuviz {

struct AdamConfig {
  float lr = 0.05f;  // Lucid's render default
  float beta1 = 0.9f, beta2 = 0.999f;
  float eps = 1e-8f;
};

struct SgdConfig {
  float lr = 0.01f;
  float momentum = 0.9f;
  float dampening = 0.f;
  bool nesterov = false;
};

enum class GradNorm { none, mean_abs, l2 };

// The per-step scalars of Adam, computed once on the host in double as torch does.
struct AdamStep {
  float one_minus_beta1, beta2, one_minus_beta2;
  float step_size;  // lr / (1 - beta1^t)
  float bc2_sqrt;   // sqrt(1 - beta2^t)
  float eps;
};

// Adam's scalars for step t (1-based), in double as torch does. Shared by the host and by the
// CUDA kernel that reads t from device memory (Adam::step_counted), so a captured CUDA graph
// needs nothing from the host per step. (CUDA's double pow is within 2 ulp, glibc's within 1: the
// doubles may differ in their last bits, and the float scalars then only where those bits decide
// a rounding; the host test checks the shared code, a GPU run the device's libm.)
CUVIZ_HD AdamStep adam_step_at(const AdamConfig& c, int64_t t) {
  const double bc1 = 1.0 - pow(double(c.beta1), double(t));
  const double bc2 = 1.0 - pow(double(c.beta2), double(t));
  return AdamStep{float(1.0 - double(c.beta1)), c.beta2, float(1.0 - double(c.beta2)), float(double(c.lr) / bc1),
                  float(sqrt(bc2)), c.eps};
}

// adam_step_at for step t, checked (t >= 1).
AdamStep adam_step_scalars(const AdamConfig& c, int64_t t);

// One element of torch.optim.Adam (lerp_, mul_.addcmul_, sqrt / bc2_sqrt + eps, addcdiv_).
CUVIZ_HD void adam_update(float& p, float g, float& m, float& v, const AdamStep& s) {
  m = m + s.one_minus_beta1 * (g - m);
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  const float denom = sqrtf(v) / s.bc2_sqrt + s.eps;
  p = p + (-s.step_size * m) / denom;
}

// One element of torch.optim.SGD with momentum (first: the buffer starts as a copy of g).
CUVIZ_HD void sgd_update(float& p, float g, float& buf, bool first, const SgdConfig& c) {
  if (c.momentum != 0.f) {
    buf = first ? g : buf * c.momentum + (1.f - c.dampening) * g;
    g = c.nesterov ? g + c.momentum * buf : buf;
  }
  p = p - c.lr * g;
}

// Divides each of `segments` equal chunks of g by (mean |g| + 1e-8) or (||g||_2 + 1e-8), in place.
void normalize_gradient(GradNorm kind, int segments, const Tensor& g);

// Adam with its moment buffers, on the device of construction.
class Adam {
 public:
  Adam(int64_t size, Device device, AdamConfig config = {});
  // params -= update(grads); both dense with `size` elements. Steps count from 1.
  void step(const Tensor& params, const Tensor& grads);
  // The update of step *steps_done + 1, where the count lives in memory on the optimizer's
  // device and the caller advances it: on a GPU the kernel reads it, so the launch can be
  // captured into a CUDA graph and replayed. steps() does not count these updates.
  void step_counted(const Tensor& params, const Tensor& grads, const int64_t* steps_done);
  int64_t steps() const { return t_; }
  const AdamConfig& config() const { return config_; }
  // Zeroes the moments and the step count.
  void reset();

 private:
  // The update with step scalars s, on the CPU.
  void update_cpu(const Tensor& params, const Tensor& grads, const AdamStep& s);

  int64_t size_;
  Device device_;
  AdamConfig config_;
  OwnedTensor m_, v_;
  int64_t t_ = 0;
};

// SGD with momentum, on the device of construction.
class Sgd {
 public:
  Sgd(int64_t size, Device device, SgdConfig config = {});
  void step(const Tensor& params, const Tensor& grads);
  int64_t steps() const { return t_; }

 private:
  int64_t size_;
  Device device_;
  SgdConfig config_;
  OwnedTensor buf_;
  int64_t t_ = 0;
};

// CUDA entry points (optim/optimizer.cu, or throwing stand-ins in optimizer_disabled.cpp).
void adam_update_cuda(float* p, const float* g, float* m, float* v, int64_t n, const AdamStep& s);
void adam_update_counted_cuda(float* p, const float* g, float* m, float* v, int64_t n, const AdamConfig& c,
                              const int64_t* steps_done);
void sgd_update_cuda(float* p, const float* g, float* buf, int64_t n, bool first, const SgdConfig& c);
void normalize_gradient_cuda(GradNorm kind, int segments, float* g, int64_t n);

}  // namespace cuviz
