// The method layer's per-step ops on the CPU (viz/method_ops.h) and the dispatch to CUDA.
#include "viz/method_ops.h"

#include <vector>

#include "core/check.h"

namespace cuviz {

namespace {

void check_images(const char* op, const Tensor& a, const Tensor& b) {
  check_nonempty(op, "input", a);
  CUVIZ_CHECK(a.c() == 3, op, ": expects 3-channel images, got ", a.shape().str());
  check_shape(op, "output", b, a.shape());
  CUVIZ_CHECK(a.contiguous() && b.contiguous(), op, ": tensors must be dense");
  CUVIZ_CHECK(a.device() == b.device(), op, ": tensors on ", device_name(a.device()), " and ",
              device_name(b.device()));
}

int64_t plane(const Tensor& t) { return int64_t(t.h()) * t.w(); }

}  // namespace

void input_to_image(const Preprocess& pre, const Tensor& x, const Tensor& image) {
  check_images("input_to_image", x, image);
  if (x.device() == Device::cuda) return input_to_image_cuda(pre, x, image);
  const int64_t hw = plane(x);
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < 3; ++c) {
      const float* xs = x.image(n) + c * hw;
      float* out = image.image(n) + pre.src[c] * hw;
      for (int64_t k = 0; k < hw; ++k) out[k] = (xs[k] - pre.offset[c]) / pre.scale[c];
    }
}

void input_to_image_backward_add(const Preprocess& pre, const Tensor& dimage, const Tensor& dx) {
  check_images("input_to_image_backward", dimage, dx);
  if (dx.device() == Device::cuda) return input_to_image_backward_add_cuda(pre, dimage, dx);
  const int64_t hw = plane(dx);
  for (int n = 0; n < dx.n(); ++n)
    for (int c = 0; c < 3; ++c) {
      const float* g = dimage.image(n) + pre.src[c] * hw;
      float* out = dx.image(n) + c * hw;
      for (int64_t k = 0; k < hw; ++k) out[k] += g[k] / pre.scale[c];
    }
}

namespace {

// out = roll(in, sign * shift): out[y, x] = in[y - sign dy, x - sign dx] (indices mod H, W).
void roll_cpu(int max_shift, uint64_t seed, StepIndex step, int sign, const Tensor& in, const Tensor& out) {
  const int h = in.h(), w = in.w();
  const uint64_t s = step.get();
  for (int n = 0; n < in.n(); ++n) {
    int dy = 0, dx = 0;
    roll_shift(seed, s, n, max_shift, dy, dx);
    for (int c = 0; c < in.c(); ++c) {
      const float* src = in.image(n) + c * plane(in);
      float* dst = out.image(n) + c * plane(out);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) dst[y * w + x] = src[wrap(y - sign * dy, h) * w + wrap(x - sign * dx, w)];
    }
  }
}

}  // namespace

void roll_forward(int max_shift, uint64_t seed, StepIndex step, const Tensor& x, const Tensor& out) {
  check_images("roll", x, out);
  CUVIZ_CHECK(max_shift >= 0, "roll: negative shift ", max_shift);
  if (x.device() == Device::cuda) return roll_cuda(max_shift, seed, step, +1, x, out);
  roll_cpu(max_shift, seed, step, +1, x, out);
}

void roll_backward(int max_shift, uint64_t seed, StepIndex step, const Tensor& dout, const Tensor& dx) {
  check_images("roll_backward", dout, dx);
  CUVIZ_CHECK(max_shift >= 0, "roll: negative shift ", max_shift);
  if (dx.device() == Device::cuda) return roll_cuda(max_shift, seed, step, -1, dout, dx);
  roll_cpu(max_shift, seed, step, -1, dout, dx);
}

namespace {

void check_crop(const char* op, const Tensor& small, const Tensor& big) {
  check_nonempty(op, "window", small);
  check_nonempty(op, "image", big);
  CUVIZ_CHECK(small.n() == big.n() && small.c() == big.c() && small.h() <= big.h() && small.w() <= big.w(), op,
              ": a ", small.shape().str(), " window does not fit in ", big.shape().str());
  CUVIZ_CHECK(small.contiguous() && big.contiguous(), op, ": tensors must be dense");
  CUVIZ_CHECK(small.device() == big.device(), op, ": tensors on ", device_name(small.device()), " and ",
              device_name(big.device()));
}

}  // namespace

void crop_forward(bool random, uint64_t seed, StepIndex step, const Tensor& x, const Tensor& out) {
  check_crop("crop", out, x);
  if (x.device() == Device::cuda) return crop_cuda(random, seed, step, false, out, x);
  const uint64_t s = step.get();
  for (int n = 0; n < x.n(); ++n) {
    const int oy = crop_offset(seed, s, n, 0, x.h() - out.h(), random);
    const int ox = crop_offset(seed, s, n, 1, x.w() - out.w(), random);
    for (int c = 0; c < x.c(); ++c)
      for (int y = 0; y < out.h(); ++y)
        for (int xx = 0; xx < out.w(); ++xx)
          out.image(n)[(int64_t(c) * out.h() + y) * out.w() + xx] =
              x.image(n)[(int64_t(c) * x.h() + oy + y) * x.w() + ox + xx];
  }
}

void crop_backward(bool random, uint64_t seed, StepIndex step, const Tensor& dout, const Tensor& dx) {
  check_crop("crop_backward", dout, dx);
  if (dx.device() == Device::cuda) return crop_cuda(random, seed, step, true, dout, dx);
  const uint64_t s = step.get();
  for (int n = 0; n < dx.n(); ++n) {
    const int oy = crop_offset(seed, s, n, 0, dx.h() - dout.h(), random);
    const int ox = crop_offset(seed, s, n, 1, dx.w() - dout.w(), random);
    float* d = dx.image(n);
    for (int64_t k = 0; k < dx.shape().image_size(); ++k) d[k] = 0.f;
    for (int c = 0; c < dx.c(); ++c)
      for (int y = 0; y < dout.h(); ++y)
        for (int xx = 0; xx < dout.w(); ++xx)
          d[(int64_t(c) * dx.h() + oy + y) * dx.w() + ox + xx] =
              dout.image(n)[(int64_t(c) * dout.h() + y) * dout.w() + xx];
  }
}

void blur_scheduled(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, const Tensor& p,
                    const Tensor& tmp) {
  check_images("blur", p, tmp);
  CUVIZ_CHECK(sigma_start >= 0.f && sigma_end >= 0.f && radius >= 0, "blur: negative sigma or radius (", sigma_start,
              ", ", sigma_end, ", ", radius, ")");
  if (p.device() == Device::cuda) return blur_scheduled_cuda(sigma_start, sigma_end, radius, steps, step, p, tmp);
  const float sigma = linear_schedule(sigma_start, sigma_end, int64_t(step.get()), steps);
  const int h = p.h(), w = p.w();
  for (int n = 0; n < p.n(); ++n)
    for (int c = 0; c < 3; ++c) {
      float* a = p.image(n) + c * plane(p);
      float* b = tmp.image(n) + c * plane(tmp);
      for (int y = 0; y < h; ++y)  // along W into tmp, then along H back into p
        for (int x = 0; x < w; ++x) b[y * w + x] = blur_line_at(a + y * w, 1, w, x, radius, sigma);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) a[y * w + x] = blur_line_at(b + x, w, h, y, radius, sigma);
    }
}

void blur_scheduled_window(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, int crop,
                           uint64_t seed, const Tensor& p, const Tensor& tmp) {
  check_images("blur_window", p, tmp);
  CUVIZ_CHECK(sigma_start >= 0.f && sigma_end >= 0.f && radius >= 0, "blur_window: negative sigma or radius (",
              sigma_start, ", ", sigma_end, ", ", radius, ")");
  CUVIZ_CHECK(crop >= 1 && crop <= p.h() && crop <= p.w(), "blur_window: a ", crop, " px window does not fit ",
              p.shape().str());
  if (p.device() == Device::cuda)
    return blur_scheduled_window_cuda(sigma_start, sigma_end, radius, steps, step, crop, seed, p, tmp);
  const float sigma = linear_schedule(sigma_start, sigma_end, int64_t(step.get()), steps);
  const int h = p.h(), w = p.w();
  for (int n = 0; n < p.n(); ++n) {
    const int oy = crop_offset(seed, step.get(), n, 0, h - crop, true);
    const int ox = crop_offset(seed, step.get(), n, 1, w - crop, true);
    for (int c = 0; c < 3; ++c) {
      float* a = p.image(n) + c * plane(p);
      float* b = tmp.image(n) + c * plane(tmp);
      for (int y = oy; y < oy + crop; ++y)  // along W within the window into tmp, then along H back
        for (int x = ox; x < ox + crop; ++x) b[y * w + x] = blur_line_at(a + y * w + ox, 1, crop, x - ox, radius, sigma);
      for (int y = oy; y < oy + crop; ++y)
        for (int x = ox; x < ox + crop; ++x)
          a[y * w + x] = blur_line_at(b + int64_t(oy) * w + x, w, crop, y - oy, radius, sigma);
    }
  }
}

void blur_scheduled_adjoint(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, const Tensor& p,
                            const Tensor& tmp) {
  check_images("blur_adjoint", p, tmp);
  CUVIZ_CHECK(sigma_start >= 0.f && sigma_end >= 0.f && radius >= 0, "blur_adjoint: negative sigma or radius (",
              sigma_start, ", ", sigma_end, ", ", radius, ")");
  if (p.device() == Device::cuda)
    return blur_scheduled_adjoint_cuda(sigma_start, sigma_end, radius, steps, step, p, tmp);
  const float sigma = linear_schedule(sigma_start, sigma_end, int64_t(step.get()), steps);
  const int h = p.h(), w = p.w();
  for (int n = 0; n < p.n(); ++n)
    for (int c = 0; c < 3; ++c) {
      float* a = p.image(n) + c * plane(p);
      float* b = tmp.image(n) + c * plane(tmp);
      for (int y = 0; y < h; ++y)  // B_H^T into tmp, then B_W^T back into p
        for (int x = 0; x < w; ++x) b[y * w + x] = blur_line_adjoint_at(a + x, w, h, y, radius, sigma);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) a[y * w + x] = blur_line_adjoint_at(b + y * w, 1, w, x, radius, sigma);
    }
}

namespace {

void check_resize(const char* op, const Tensor& a, const Tensor& b) {
  check_nonempty(op, "input", a);
  check_nonempty(op, "output", b);
  CUVIZ_CHECK(a.n() == b.n() && a.c() == b.c(), op, ": ", a.shape().str(), " and ", b.shape().str(),
              " differ in images or channels");
  CUVIZ_CHECK(a.contiguous() && b.contiguous(), op, ": tensors must be dense");
  CUVIZ_CHECK(a.device() == b.device(), op, ": tensors on ", device_name(a.device()), " and ",
              device_name(b.device()));
}

// One axis of the resize (or its adjoint) on the CPU: `in` -> `out`, which differ along that axis only.
void resize_axis_cpu(bool adjoint, bool along_w, const Tensor& in, const Tensor& out) {
  const int planes = in.n() * in.c(), h = out.h(), w = out.w();
  const int64_t in_plane = int64_t(in.h()) * in.w(), out_plane = int64_t(h) * w;
  for (int q = 0; q < planes; ++q) {
    const float* src = in.data() + q * in_plane;
    float* dst = out.data() + q * out_plane;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        double v;
        if (along_w)  // along a row of `in`: in.w() -> w samples
          v = adjoint ? resize_line_adjoint_at(src + int64_t(y) * in.w(), 1, w, in.w(), x)
                      : resize_line_at(src + int64_t(y) * in.w(), 1, in.w(), w, x);
        else          // along a column: in.h() -> h samples
          v = adjoint ? resize_line_adjoint_at(src + x, w, h, in.h(), y) : resize_line_at(src + x, w, in.h(), h, y);
        dst[int64_t(y) * w + x] = float(v);
      }
  }
}

void resize_axis(bool adjoint, bool along_w, const Tensor& in, const Tensor& out) {
  if (in.device() == Device::cuda) return resize_axis_cuda(adjoint, along_w, in, out);
  resize_axis_cpu(adjoint, along_w, in, out);
}

}  // namespace

void resize_forward(const Tensor& x, const Tensor& out) {
  check_resize("resize", x, out);
  if (x.shape() == out.shape()) return copy(x, out);
  // Along W first ({N, C, H, w}), then along H, as torch's separable pass.
  OwnedTensor mid(Shape{x.n(), x.c(), x.h(), out.w()}, x.device());
  resize_axis(false, true, x, mid);
  resize_axis(false, false, mid, out);
}

void resize_adjoint(const Tensor& dout, const Tensor& dx) {
  check_resize("resize_adjoint", dout, dx);
  if (dx.shape() == dout.shape()) return copy(dout, dx);
  // (R_H R_W)^T = R_W^T R_H^T: along H back to dx's height, then along W.
  OwnedTensor mid(Shape{dx.n(), dx.c(), dx.h(), dout.w()}, dx.device());
  resize_axis(true, false, dout, mid);
  resize_axis(true, true, mid, dx);
}

void clip_channels(const float lo[3], const float hi[3], const Tensor& p) {
  check_images("clip", p, p);
  if (p.device() == Device::cuda) return clip_channels_cuda(lo, hi, p);
  for (int n = 0; n < p.n(); ++n)
    for (int c = 0; c < 3; ++c) {
      float* a = p.image(n) + c * plane(p);
      for (int64_t k = 0; k < plane(p); ++k) a[k] = fminf(fmaxf(a[k], lo[c]), hi[c]);
    }
}

void decay_and_schedule(float decay, float scale_end, int steps, StepIndex step, const Tensor& p, const Tensor& g) {
  check_shape("decay_and_schedule", "gradient", g, p.shape());
  CUVIZ_CHECK(p.contiguous() && g.contiguous() && p.device() == g.device(),
              "decay_and_schedule: tensors must be dense and on one device");
  if (p.device() == Device::cuda) return decay_and_schedule_cuda(decay, scale_end, steps, step, p, g);
  const float f = linear_schedule(1.f, scale_end, int64_t(step.get()), steps);
  const float* pp = p.data();
  float* gg = g.data();
  for (int64_t k = 0; k < p.numel(); ++k) gg[k] = (gg[k] + decay * pp[k]) * f;
}

}  // namespace cuviz
