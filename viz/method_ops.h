// The method layer's per-step operations on images and gradients (docs/visualization.md, "The method
// layer"): the map of the input parameterization to the [0, 1] image and its adjoint, a random roll
// (google/deepdream's jitter), deepdraw's random crop, a Gaussian blur with a sigma schedule
// (deepdraw), the antialiased bilinear resize of the octaves, a clip to the valid pixel range, L2
// decay and a step-size schedule on the gradient; every linear one with its adjoint. Each is one function dispatching
// by the tensors' device to a CPU loop or a CUDA kernel on the current stream (viz/method_ops.cu);
// the per-element maths below is shared by both. Every per-step value (the roll's draw, the blur's
// sigma, the schedule's factor) is computed from a StepIndex, which may be the Renderer's step
// counter in device memory, so these ops run inside the captured CUDA graph of a render step.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"
#include "optim/optimizer.h"
#include "viz/random.h"
#include "viz/transform.h"

namespace cuviz {

inline constexpr uint64_t kStreamRoll = 0x524f4c4cULL << 32;  // "ROLL" + step: the roll's draws
inline constexpr uint64_t kStreamCrop = 0x43524f50ULL << 32;  // "CROP" + step: the random crop's draws

// The per-step operations the Renderer runs around its optimizer (RenderOptions::ops). The
// defaults do nothing, so every existing render and sweep runs exactly the launches it ran before.
struct StepOps {
  // Jitter as google/deepdream does it (32 px there): the network input rolled (wrapping) by up
  // to +-roll px per image and step, and the gradient rolled back.
  int roll = 0;
  // Before the optimizer, per image: g / (mean |g| + 1e-8) (google/deepdream) or g / ||g||.
  GradNorm grad_norm = GradNorm::none;
  // Before the optimizer: g += l2_decay * P, the gradient of Simonyan's (l2_decay / 2) ||P||^2.
  float l2_decay = 0.f;
  // Step-size schedule: the gradient times 1 at the first update, linearly to step_scale_end at
  // the last. SGD's step is proportional to it; Adam's is not (it divides the gradient's scale
  // out), so anything but 1 with Adam is an error.
  float step_scale_end = 1.f;
  // After each update (and the clip): a Gaussian blur of P with sigma linear from start to end over
  // the steps (deepdraw's per-octave blur schedule, which blurs after its clip); pixel or input
  // parameterization. With a crop (below) only the step's window is blurred, as deepdraw does.
  float blur_sigma_start = 0.f, blur_sigma_end = 0.f;
  // After each update: P clamped to the network input of [0, 1] images (google/deepdream's clip
  // to the valid pixel range); input parameterization.
  bool clip = false;
  // deepdraw's random crops: when P is larger than crop x crop, the network sees a crop x crop
  // window of P at a random offset per image and step (crop_offset), and the gradient of P is
  // zero outside it. Param input, no transforms, no roll, no tiles.
  int crop = 0;

  bool blurs() const { return blur_sigma_start > 0.f || blur_sigma_end > 0.f; }
};

// adam and sgd update once per step; lbfgs (optim/lbfgs.h) runs one L-BFGS iteration per step,
// which evaluates the gradient one or more times (its line search) and keeps a history of steps.
enum class OptimizerKind { adam, sgd, lbfgs };

// ---- shared per-element maths ----------------------------------------------------------------

// The roll of image `i` at `step`: (dy, dx) uniform in [-max_shift, max_shift] each.
CUVIZ_HD void roll_shift(uint64_t seed, uint64_t step, int i, int max_shift, int& dy, int& dx) {
  dy = random_int(seed, kStreamRoll + step, uint64_t(i) * 2, -max_shift, max_shift);
  dx = random_int(seed, kStreamRoll + step, uint64_t(i) * 2 + 1, -max_shift, max_shift);
}

// deepdraw's random crop offset along one axis (axis 0: rows, 1: columns) of image `i` at `step`,
// for a window `slack` px smaller than the image: normal(slack / 2, 0.3 slack) clipped to
// [0, slack] and truncated, as deepdraw's `int(np.clip(np.random.normal(mid, width * 0.3), 0,
// imw - w))`. random = false: the centre, floor(slack / 2) (deepdraw without random_crop).
CUVIZ_HD int crop_offset(uint64_t seed, uint64_t step, int i, int axis, int slack, bool random) {
  if (slack <= 0) return 0;
  if (!random) return slack / 2;
  const double o = 0.5 * slack + 0.3 * slack * random_normal(seed, kStreamCrop + step, uint64_t(i) * 2 + uint64_t(axis));
  return int(o < 0.0 ? 0.0 : (o > double(slack) ? double(slack) : o));
}

// a mod n in [0, n).
CUVIZ_HD int wrap(int a, int n) {
  const int r = a % n;
  return r < 0 ? r + n : r;
}

// scipy.ndimage's 'reflect' boundary (d c b a | a b c d | d c b a), for any distance outside.
CUVIZ_HD int reflect_index(int i, int n) {
  const int period = 2 * n;
  i = wrap(i, period);
  return i < n ? i : period - 1 - i;
}

// A linear schedule from `start` (update 0) to `end` (update steps - 1), in float.
CUVIZ_HD float linear_schedule(float start, float end, int64_t t, int steps) {
  if (steps <= 1) return start;
  const double f = double(t) / double(steps - 1);
  return float(double(start) + (double(end) - double(start)) * (f > 1.0 ? 1.0 : f));
}

// Unnormalised Gaussian tap k of sigma (sigma <= 0: the identity, only tap 0).
CUVIZ_HD float gaussian_tap(int k, float sigma) {
  if (sigma <= 0.f) return k == 0 ? 1.f : 0.f;
  return expf(-float(k * k) / (2.f * sigma * sigma));
}

// One output sample of the 1-D blur along a line of `n` samples `stride` apart, radius r.
CUVIZ_HD float blur_line_at(const float* line, int64_t stride, int n, int i, int r, float sigma) {
  float acc = 0.f, total = 0.f;
  for (int k = -r; k <= r; ++k) {
    const float w = gaussian_tap(k, sigma);
    total += w;
    acc += w * line[int64_t(reflect_index(i + k, n)) * stride];
  }
  return acc / total;
}

// One sample of the adjoint (transpose) of the 1-D blur along a line: sum over the outputs i whose
// taps read sample j, i.e. reflect_index(i + k, n) == j, of w_k y_i, over the same normalisation.
// The taps read j at i + k = j + 2 n p or i + k = -1 - j + 2 n p (the mirror images of j); the
// loop over p covers radii larger than the line. A gather, so CPU and CUDA sum in one order.
CUVIZ_HD float blur_line_adjoint_at(const float* line, int64_t stride, int n, int j, int r, float sigma) {
  float acc = 0.f, total = 0.f;
  const int periods = r / (2 * n) + 1;
  for (int k = -r; k <= r; ++k) {
    const float w = gaussian_tap(k, sigma);
    total += w;
    for (int p = -periods; p <= periods; ++p) {
      const int i0 = j + 2 * n * p - k, i1 = -1 - j + 2 * n * p - k;
      if (i0 >= 0 && i0 < n) acc += w * line[int64_t(i0) * stride];
      if (i1 >= 0 && i1 < n) acc += w * line[int64_t(i1) * stride];
    }
  }
  return acc / total;
}

// Antialiased bilinear resampling along one axis, as torch's interpolate(mode='bilinear',
// align_corners=False, antialias=True) computes its weights (ATen UpSampleKernel.cpp,
// _compute_indices_min_size_weights_aa): for output i of `out` samples from `in`, scale = in / out,
//   center = scale (i + 0.5), support = max(scale, 1), invscale = 1 / max(scale, 1),
//   taps j in [xmin, xmin + xsize): xmin = max(int(center - support + 0.5), 0),
//                                   xsize = min(int(center + support + 0.5), in) - xmin,
//   weight_j = tri((j - center + 0.5) invscale) / (sum of those), tri(t) = max(0, 1 - |t|).
// Upscaling (scale < 1) this is bilinear interpolation with half-pixel centres, edges clamped;
// downscaling by s it is a triangle filter 2 s px wide, so every input sample counts (no aliasing).
struct ResizeTaps {
  int xmin = 0, xsize = 0;
  double center = 0, invscale = 1, total = 0;
  CUVIZ_HD double weight(int j) const {  // unnormalised, of input sample j
    const double t = (double(j) - center + 0.5) * invscale;
    const double a = t < 0 ? -t : t;
    return a < 1.0 ? 1.0 - a : 0.0;
  }
};
CUVIZ_HD ResizeTaps resize_taps(int i, int in, int out) {
  ResizeTaps t;
  const double scale = double(in) / double(out);
  const double support = scale >= 1.0 ? scale : 1.0;
  t.invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  t.center = scale * (i + 0.5);
  const long long lo = (long long)(t.center - support + 0.5), hi = (long long)(t.center + support + 0.5);
  t.xmin = int(lo > 0 ? lo : 0);
  t.xsize = int((hi < in ? hi : in) - t.xmin);
  for (int j = 0; j < t.xsize; ++j) t.total += t.weight(t.xmin + j);
  return t;
}
// Output i of the resampled line (`stride` apart), in double.
CUVIZ_HD double resize_line_at(const float* line, int64_t stride, int in, int out, int i) {
  const ResizeTaps t = resize_taps(i, in, out);
  double acc = 0;
  for (int j = t.xmin; j < t.xmin + t.xsize; ++j) acc += t.weight(j) * line[int64_t(j) * stride];
  return t.total != 0.0 ? acc / t.total : acc;
}
// Input sample j of the adjoint (transpose) of that resampling applied to `line` (`out` samples):
// the sum over the outputs i whose taps include j of weight_j(i) y_i. Outputs i have centres
// scale (i + 0.5), and a tap reaches at most support + 1 px from its centre, so only i within
// (j +- (support + 1)) / scale can; each candidate's taps are recomputed as in the forward pass.
CUVIZ_HD double resize_line_adjoint_at(const float* line, int64_t stride, int in, int out, int j) {
  const double scale = double(in) / double(out), support = scale >= 1.0 ? scale : 1.0;
  int lo = int((j - support - 1.0) / scale) - 1, hi = int((j + support + 1.0) / scale) + 1;
  lo = lo < 0 ? 0 : lo;
  hi = hi > out - 1 ? out - 1 : hi;
  double acc = 0;
  for (int i = lo; i <= hi; ++i) {
    const ResizeTaps t = resize_taps(i, in, out);
    if (j < t.xmin || j >= t.xmin + t.xsize) continue;
    acc += (t.total != 0.0 ? t.weight(j) / t.total : t.weight(j)) * line[int64_t(i) * stride];
  }
  return acc;
}

// ---- the ops (CPU or CUDA by the tensors' device) ------------------------------------------------

// image[src[c]] = (x[c] - offset[c]) / scale[c]: the [0, 1] image a network input stands for.
void input_to_image(const Preprocess& pre, const Tensor& x, const Tensor& image);
// The adjoint of input_to_image, accumulated: dx[c] += dimage[src[c]] / scale[c].
void input_to_image_backward_add(const Preprocess& pre, const Tensor& dimage, const Tensor& dx);

// out = np.roll(x, (dy_i, dx_i), axis=(H, W)) per image, shifts drawn by roll_shift at `step`.
void roll_forward(int max_shift, uint64_t seed, StepIndex step, const Tensor& x, const Tensor& out);
// Its adjoint (the roll back): dx = roll(dout, (-dy_i, -dx_i)).
void roll_backward(int max_shift, uint64_t seed, StepIndex step, const Tensor& dout, const Tensor& dx);

// out {N, C, h, w} = the window of x {N, C, H, W} at crop_offset(seed, step, n, ., H - h / W - w,
// random) per image.
void crop_forward(bool random, uint64_t seed, StepIndex step, const Tensor& x, const Tensor& out);
// Its adjoint: dx = dout placed at the same window, zero elsewhere (overwrites dx).
void crop_backward(bool random, uint64_t seed, StepIndex step, const Tensor& dout, const Tensor& dx);

// In place: p = separable Gaussian blur of p (reflect boundary, radius `radius`), with sigma the
// linear schedule sigma_start..sigma_end at update `step` of `steps`; `tmp` has p's shape.
void blur_scheduled(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, const Tensor& p,
                    const Tensor& tmp);
// In place: the blur_scheduled of each image's crop x crop window at crop_offset(seed, step, n,
// ., H - crop / W - crop, random), the window's own borders reflecting, and P unchanged outside
// it: deepdraw blurs the crop it just updated (src.data), not the whole image.
void blur_scheduled_window(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, int crop,
                           uint64_t seed, const Tensor& p, const Tensor& tmp);
// In place: p = B^T p, the adjoint of blur_scheduled at the same sigma (B^T = B_W^T B_H^T: the
// transpose along H first, then along W). <B x, y> = <x, B^T y> (method_ops_test). Reflection
// makes B unsymmetric near the borders, so the adjoint is not the blur itself there.
void blur_scheduled_adjoint(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, const Tensor& p,
                            const Tensor& tmp);
// The radius blur_scheduled needs for sigmas up to `sigma`: ceil(3 sigma), which keeps 99.7% of
// the Gaussian's mass (scipy truncates at 4 sigma; deepdraw's blurs are small enough not to care).
inline int blur_radius(float sigma) { return sigma > 0.f ? int(std::ceil(3.f * sigma)) : 0; }

// out {N, C, h, w} = x {N, C, H, W} resampled by resize_taps along W, then along H (separable;
// torch's antialiased bilinear interpolate; any N, C; the same size: a copy).
void resize_forward(const Tensor& x, const Tensor& out);
// Its adjoint: dx = R^T dout (overwrites dx), <R x, y> = <x, R^T y>.
void resize_adjoint(const Tensor& dout, const Tensor& dx);

// In place: p[n, c] = min(max(p[n, c], lo[c]), hi[c]).
void clip_channels(const float lo[3], const float hi[3], const Tensor& p);

// In place, before the optimizer: g = (g + decay * p) * linear_schedule(1, scale_end, step, steps).
// decay is Simonyan's L2 prior as a gradient (2 lambda for lambda ||p||^2); the factor is the
// step-size schedule (for SGD: the learning rate times it).
void decay_and_schedule(float decay, float scale_end, int steps, StepIndex step, const Tensor& p, const Tensor& g);

// CUDA entry points (viz/method_ops.cu, or throwing stand-ins in method_ops_disabled.cpp).
void input_to_image_cuda(const Preprocess& pre, const Tensor& x, const Tensor& image);
void input_to_image_backward_add_cuda(const Preprocess& pre, const Tensor& dimage, const Tensor& dx);
void roll_cuda(int max_shift, uint64_t seed, StepIndex step, int sign, const Tensor& in, const Tensor& out);
void crop_cuda(bool random, uint64_t seed, StepIndex step, bool backward, const Tensor& small, const Tensor& big);
void blur_scheduled_cuda(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, const Tensor& p,
                         const Tensor& tmp);
void blur_scheduled_window_cuda(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, int crop,
                                uint64_t seed, const Tensor& p, const Tensor& tmp);
void blur_scheduled_adjoint_cuda(float sigma_start, float sigma_end, int radius, int steps, StepIndex step,
                                 const Tensor& p, const Tensor& tmp);
// One axis of the resize or its adjoint: along W (along_w) or H, `in` -> `out` shapes.
void resize_axis_cuda(bool adjoint, bool along_w, const Tensor& in, const Tensor& out);
void clip_channels_cuda(const float lo[3], const float hi[3], const Tensor& p);
void decay_and_schedule_cuda(float decay, float scale_end, int steps, StepIndex step, const Tensor& p,
                             const Tensor& g);

}  // namespace cuviz
