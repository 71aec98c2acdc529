// Transformation robustness (Lucid's standard_transforms) and the model's input preprocessing.
//   pad(12, 0.5) -> jitter(8) -> random_scale(0.90..1.10) -> random_rotate(-10..10, five 0s)
//   -> jitter(4), composed into ONE affine bilinear resample per image (torch's affine_grid +
//   grid_sample, padding_mode border, align_corners False), then net[c] = img[src_c] * a_c + b_c.
// Backward is the exact adjoint (the transpose of the bilinear weights, then of the affine map).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>

#include "core/host_device.h"
#include "nn/graph.h"
#include "core/tensor.h"
#include "viz/random.h"

namespace cuviz {

// The transform settings; a plain struct so that CUDA kernels receive it by value.
struct TransformSpec {
  static constexpr int kMaxScales = 32, kMaxAngles = 64;
  bool enabled = true;      // false: `none`, the image goes to the network untouched
  int pad = 12;             // canvas border on each side
  float pad_value = 0.5f;   // its constant colour (in [0, 1] image space)
  int jitter = 8;           // first jitter: translation in [-jitter, jitter] pixels
  int jitter2 = 4;          // last jitter
  int n_scales = 0;
  float scales[kMaxScales] = {};
  int n_angles = 0;
  float angles_deg[kMaxAngles] = {};

  // Lucid's standard_transforms (the values above plus scales 1 + (i-5)/50, angles -10..10 + 5x0).
  static TransformSpec standard();
  // No transform at all.
  static TransformSpec none();
  // Parses "standard" or "none"; throws listing the choices otherwise.
  static TransformSpec parse(const std::string& name);
};

// The model's preprocessing as net[c] = img[src[c]] * scale[c] + offset[c] (image in [0, 1]).
struct Preprocess {
  int src[3] = {0, 1, 2};
  float scale[3] = {1.f, 1.f, 1.f};
  float offset[3] = {0.f, 0.f, 0.f};

  // x value_scale, channel order, minus mean, divided by std (nn/graph.h ModelMeta).
  static Preprocess from_meta(const ModelMeta& meta);
};

// torch's theta of affine_grid: source (normalised, padded canvas) = t[0..2] . (x, y, 1), t[3..5] . (x, y, 1).
struct Affine {
  float t[6] = {1.f, 0.f, 0.f, 0.f, 1.f, 0.f};
};

// The affine map of `image` at `step` with this spec's random draws (8 counter slots per image):
// the baseline's random_affine, generalised to H != W row by row. Identity for `none`.
CUVIZ_HD Affine draw_affine(const TransformSpec& s, int h, int w, uint64_t seed, uint64_t step, int image) {
  if (!s.enabled) return Affine{};
  const uint64_t stream = kStreamTransform + step, base = uint64_t(image) * 8;
  const float sc = s.scales[random_int(seed, stream, base + 0, 0, s.n_scales - 1)];
  const float deg = s.angles_deg[random_int(seed, stream, base + 1, 0, s.n_angles - 1)];
  const int jx = random_int(seed, stream, base + 2, -s.jitter, s.jitter) +
                 random_int(seed, stream, base + 4, -s.jitter2, s.jitter2);
  const int jy = random_int(seed, stream, base + 3, -s.jitter, s.jitter) +
                 random_int(seed, stream, base + 5, -s.jitter2, s.jitter2);
  const float r = deg * 3.14159265358979323846f / 180.f;
  const float c = cosf(r) / sc, sn = sinf(r) / sc;
  const float wp = float(w + 2 * s.pad), hp = float(h + 2 * s.pad);
  const float fx = float(double(w) / double(w + 2 * s.pad)), fy = float(double(h) / double(h + 2 * s.pad));
  Affine a;
  a.t[0] = c * fx;
  a.t[1] = -sn * fx;
  a.t[2] = float(jx) * 2.f / wp;
  a.t[3] = sn * fy;
  a.t[4] = c * fy;
  a.t[5] = float(jy) * 2.f / hp;
  return a;
}

// The bilinear taps of one output pixel: source canvas pixel (x0, y0) and the weights of x0 + 1,
// y0 + 1 (those of x0, y0 are 1 - wx, 1 - wy). Coordinates are clamped to the canvas (border).
template <class T>
struct Taps {
  int x0, y0;
  T wx, wy;
};

// Exactly torch's grid_sample arithmetic for (oy, ox) of an h x w output on an hp x wp canvas.
template <class T>
CUVIZ_HD Taps<T> affine_taps(const Affine& a, int oy, int ox, int h, int w, int hp, int wp) {
  const T xn = T(2 * ox + 1) / T(w) - T(1), yn = T(2 * oy + 1) / T(h) - T(1);
  const T gx = T(a.t[0]) * xn + T(a.t[1]) * yn + T(a.t[2]);
  const T gy = T(a.t[3]) * xn + T(a.t[4]) * yn + T(a.t[5]);
  T ix = ((gx + T(1)) * T(wp) - T(1)) / T(2), iy = ((gy + T(1)) * T(hp) - T(1)) / T(2);
  ix = ix < T(0) ? T(0) : (ix > T(wp - 1) ? T(wp - 1) : ix);
  iy = iy < T(0) ? T(0) : (iy > T(hp - 1) ? T(hp - 1) : iy);
  const T fx = floor(ix), fy = floor(iy);
  return Taps<T>{int(fx), int(fy), ix - fx, iy - fy};
}

// Canvas pixel (cy, cx): the image inside, the pad colour around it.
template <class T>
CUVIZ_HD T canvas_at(const T* plane, int cy, int cx, int h, int w, int pad, T pad_value) {
  const int y = cy - pad, x = cx - pad;
  return (y >= 0 && y < h && x >= 0 && x < w) ? plane[int64_t(y) * w + x] : pad_value;
}

// One output sample: sum of the (up to) four in-canvas taps, as grid_sample does.
template <class T>
CUVIZ_HD T resample_at(const T* plane, const Taps<T>& k, int h, int w, int pad, T pad_value) {
  const int hp = h + 2 * pad, wp = w + 2 * pad;
  T v = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const int cy = k.y0 + dy, cx = k.x0 + dx;
      if (cy < 0 || cy >= hp || cx < 0 || cx >= wp) continue;
      const T wgt = (dx ? k.wx : T(1) - k.wx) * (dy ? k.wy : T(1) - k.wy);
      v += wgt * canvas_at(plane, cy, cx, h, w, pad, pad_value);
    }
  return v;
}

// The adjoint at one image pixel (y, x), as a GATHER (used by the CUDA kernel: no atomics, a
// fixed summation order): the outputs whose taps touch canvas pixel (y + pad, x + pad) lie in
// the inverse image of its +-1 px neighbourhood, a small parallelogram; each candidate's taps are
// recomputed exactly as in the forward pass. `g` is the output-gradient plane, already scaled.
// Exact for pad >= 1: outputs clamped to the canvas border then touch pad pixels only.
template <class T>
CUVIZ_HD T affine_adjoint_gather_at(const Affine& a, const T* g, int y, int x, int h, int w, int pad) {
  const int hp = h + 2 * pad, wp = w + 2 * pad;
  // Canvas coordinate as an affine function of the output pixel: ix = m00 ox + m01 oy + bx.
  const double m00 = double(wp) * a.t[0] / w, m01 = double(wp) * a.t[1] / h;
  const double m10 = double(hp) * a.t[3] / w, m11 = double(hp) * a.t[4] / h;
  const double bx = 0.5 * wp * (a.t[0] * (1.0 / w - 1) + a.t[1] * (1.0 / h - 1) + a.t[2] + 1) - 0.5;
  const double by = 0.5 * hp * (a.t[3] * (1.0 / w - 1) + a.t[4] * (1.0 / h - 1) + a.t[5] + 1) - 0.5;
  const double det = m00 * m11 - m01 * m10;
  const double i00 = m11 / det, i01 = -m01 / det, i10 = -m10 / det, i11 = m00 / det;
  const int cx = x + pad, cy = y + pad;
  const double ocx = i00 * (cx - bx) + i01 * (cy - by), ocy = i10 * (cx - bx) + i11 * (cy - by);
  // A tap reaches one pixel either way, so |d canvas| < 1 per axis; the +1 covers rounding.
  const double ex = fabs(i00) + fabs(i01) + 1, ey = fabs(i10) + fabs(i11) + 1;
  int x_lo = int(floor(ocx - ex)), x_hi = int(ceil(ocx + ex)), y_lo = int(floor(ocy - ey)), y_hi = int(ceil(ocy + ey));
  x_lo = x_lo < 0 ? 0 : x_lo;
  y_lo = y_lo < 0 ? 0 : y_lo;
  x_hi = x_hi > w - 1 ? w - 1 : x_hi;
  y_hi = y_hi > h - 1 ? h - 1 : y_hi;
  T acc = 0;
  for (int oy = y_lo; oy <= y_hi; ++oy)
    for (int ox = x_lo; ox <= x_hi; ++ox) {
      const Taps<T> k = affine_taps<T>(a, oy, ox, h, w, hp, wp);
      const int dx = cx - k.x0, dy = cy - k.y0;
      if (dx < 0 || dx > 1 || dy < 0 || dy > 1) continue;
      acc += g[int64_t(oy) * w + ox] * (dx ? k.wx : T(1) - k.wx) * (dy ? k.wy : T(1) - k.wy);
    }
  return acc;
}

// The affine maps of all n images at `step` (CPU); throws on an unusable spec.
void draw_affines(const TransformSpec& spec, int h, int w, uint64_t seed, uint64_t step, std::span<Affine> out);

// ---- CPU implementation (also the double-precision reference) -----------------------------

// out[n, c] = preprocess(resample(canvas(image[n, src[c]]), thetas[n])); all shapes {N, 3, H, W}.
template <class T>
void affine_resample_forward_cpu(const TransformSpec& spec, const Preprocess& pre, std::span<const Affine> thetas,
                                 const BasicTensor<T>& image, const BasicTensor<T>& out);
// The exact adjoint: dimage = resample^T(dout * scale) scattered by the same bilinear weights
// (pad pixels receive nothing). Overwrites dimage.
template <class T>
void affine_resample_backward_cpu(const TransformSpec& spec, const Preprocess& pre, std::span<const Affine> thetas,
                                  const BasicTensor<T>& dout, const BasicTensor<T>& dimage);

// ---- the step's transform on any device ------------------------------------------------------

// The step whose draws a transform uses: a value, or a counter in memory on the tensors' device
// that the transform reads when it runs. Render loops use the counter: on a GPU the kernels read
// it, so a step captured once as a CUDA graph draws the right transforms at every replay.
struct StepIndex {
  uint64_t value = 0;
  const int64_t* counter = nullptr;  // when set, the step is *counter (and value is unused)

  StepIndex(uint64_t step) : value(step) {}  // NOLINT(google-explicit-constructor): a plain step
  static StepIndex at(const int64_t* counter) {
    StepIndex s(0);
    s.counter = counter;
    return s;
  }
  // The step, read where it lives (call on the device the counter is on).
  CUVIZ_HD uint64_t get() const { return counter ? uint64_t(*counter) : value; }
};

// out = preprocess(transform(image)) with the draws of (seed, step); `none` skips the resample.
void transform_forward(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                       const Tensor& image, const Tensor& out);
// dimage = adjoint of transform_forward applied to dout (overwrites dimage).
void transform_backward(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                        const Tensor& dout, const Tensor& dimage);

}  // namespace cuviz
