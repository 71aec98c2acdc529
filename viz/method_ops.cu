// The method layer's per-step ops on CUDA (viz/method_ops.h): one thread per element, on the
// current stream, reading the step from the StepIndex (the render's device counter), so they are
// captured into the render step's CUDA graph like every other stage.
#include <algorithm>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "viz/method_ops.h"

namespace cuviz {

namespace {

constexpr int kThreads = 256;
int blocks_for(int64_t total) { return int(std::min<int64_t>((total + kThreads - 1) / kThreads, 65535)); }

#define CUVIZ_GRID_LOOP(i, total) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (total); i += int64_t(gridDim.x) * blockDim.x)

struct Channels {
  float v[3];
};

__global__ void input_to_image_kernel(Preprocess pre, const float* x, float* image, int n, int64_t hw) {
  CUVIZ_GRID_LOOP(i, n * 3 * hw) {
    const int64_t k = i % hw, nc = i / hw;
    const int c = int(nc % 3);
    const int64_t img = nc / 3;
    image[(img * 3 + pre.src[c]) * hw + k] = (x[i] - pre.offset[c]) / pre.scale[c];
  }
}

__global__ void input_to_image_backward_kernel(Preprocess pre, const float* dimage, float* dx, int n, int64_t hw) {
  CUVIZ_GRID_LOOP(i, n * 3 * hw) {
    const int64_t k = i % hw, nc = i / hw;
    const int c = int(nc % 3);
    const int64_t img = nc / 3;
    dx[i] += dimage[(img * 3 + pre.src[c]) * hw + k] / pre.scale[c];
  }
}

__global__ void roll_kernel(int max_shift, uint64_t seed, StepIndex step, int sign, const float* in, float* out, int n,
                            int c, int h, int w) {
  const uint64_t s = step.get();
  const int64_t hw = int64_t(h) * w;
  CUVIZ_GRID_LOOP(i, n * c * hw) {
    const int img = int(i / (c * hw));
    const int64_t p = i % hw;
    const int y = int(p / w), x = int(p % w);
    int dy = 0, dx = 0;
    roll_shift(seed, s, img, max_shift, dy, dx);
    out[i] = in[i - p + int64_t(wrap(y - sign * dy, h)) * w + wrap(x - sign * dx, w)];
  }
}

// backward = false: small = window of big; true: big = small at the window, zero elsewhere. One
// thread per element of the written tensor.
__global__ void crop_kernel(bool random, uint64_t seed, StepIndex step, bool backward, float* small, float* big, int n,
                            int c, int h, int w, int bh, int bw) {
  const uint64_t s = step.get();
  const int oh = backward ? bh : h, ow = backward ? bw : w;
  const int64_t plane = int64_t(oh) * ow;
  CUVIZ_GRID_LOOP(i, int64_t(n) * c * plane) {
    const int img = int(i / (c * plane));
    const int64_t cp = i / plane;  // image * c + channel
    const int64_t p = i % plane;
    const int y = int(p / ow), x = int(p % ow);
    const int oy = crop_offset(seed, s, img, 0, bh - h, random), ox = crop_offset(seed, s, img, 1, bw - w, random);
    if (!backward) {
      small[i] = big[(cp * bh + oy + y) * bw + ox + x];
    } else {
      const int sy = y - oy, sx = x - ox;
      big[i] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? small[(cp * h + sy) * w + sx] : 0.f;
    }
  }
}

// Pass along W (along_w) or along H of every plane: dst = blur(src).
__global__ void blur_kernel(float s0, float s1, int radius, int steps, StepIndex step, bool along_w, const float* src,
                            float* dst, int64_t planes, int h, int w) {
  const float sigma = linear_schedule(s0, s1, int64_t(step.get()), steps);
  const int64_t hw = int64_t(h) * w;
  CUVIZ_GRID_LOOP(i, planes * hw) {
    const int64_t p = i % hw, base = i - p;
    const int y = int(p / w), x = int(p % w);
    dst[i] = along_w ? blur_line_at(src + base + int64_t(y) * w, 1, w, x, radius, sigma)
                     : blur_line_at(src + base + x, w, h, y, radius, sigma);
  }
}

// Pass of the window blur along W (along_w) or H, one thread per window element: dst = blur(src)
// inside each image's crop window, its borders reflecting.
__global__ void blur_window_kernel(float s0, float s1, int radius, int steps, StepIndex step, int crop, uint64_t seed,
                                   bool along_w, const float* src, float* dst, int n, int h, int w) {
  const float sigma = linear_schedule(s0, s1, int64_t(step.get()), steps);
  const uint64_t t = step.get();
  const int64_t win = int64_t(crop) * crop, hw = int64_t(h) * w;
  CUVIZ_GRID_LOOP(i, int64_t(n) * 3 * win) {
    const int64_t plane_index = i / win, k = i % win;
    const int img = int(plane_index / 3);
    const int oy = crop_offset(seed, t, img, 0, h - crop, true), ox = crop_offset(seed, t, img, 1, w - crop, true);
    const int wy = int(k / crop), wx = int(k % crop);
    const float* s = src + plane_index * hw;
    const int64_t at = plane_index * hw + int64_t(oy + wy) * w + ox + wx;
    dst[at] = along_w ? blur_line_at(s + int64_t(oy + wy) * w + ox, 1, crop, wx, radius, sigma)
                      : blur_line_at(s + int64_t(oy) * w + ox + wx, w, crop, wy, radius, sigma);
  }
}

// Pass of the blur's adjoint along W (along_w) or along H: dst = B^T src along that axis.
__global__ void blur_adjoint_kernel(float s0, float s1, int radius, int steps, StepIndex step, bool along_w,
                                    const float* src, float* dst, int64_t planes, int h, int w) {
  const float sigma = linear_schedule(s0, s1, int64_t(step.get()), steps);
  const int64_t hw = int64_t(h) * w;
  CUVIZ_GRID_LOOP(i, planes * hw) {
    const int64_t p = i % hw, base = i - p;
    const int y = int(p / w), x = int(p % w);
    dst[i] = along_w ? blur_line_adjoint_at(src + base + int64_t(y) * w, 1, w, x, radius, sigma)
                     : blur_line_adjoint_at(src + base + x, w, h, y, radius, sigma);
  }
}

// One axis of the resize or its adjoint, one thread per output sample (a gather either way).
__global__ void resize_axis_kernel(bool adjoint, bool along_w, const float* src, float* dst, int64_t planes, int in_h,
                                   int in_w, int h, int w) {
  const int64_t out_plane = int64_t(h) * w, in_plane = int64_t(in_h) * in_w;
  CUVIZ_GRID_LOOP(i, planes * out_plane) {
    const int64_t q = i / out_plane, p = i % out_plane;
    const int y = int(p / w), x = int(p % w);
    const float* s = src + q * in_plane;
    double v;
    if (along_w)
      v = adjoint ? resize_line_adjoint_at(s + int64_t(y) * in_w, 1, w, in_w, x)
                  : resize_line_at(s + int64_t(y) * in_w, 1, in_w, w, x);
    else
      v = adjoint ? resize_line_adjoint_at(s + x, w, h, in_h, y) : resize_line_at(s + x, w, in_h, h, y);
    dst[i] = float(v);
  }
}

__global__ void clip_kernel(Channels lo, Channels hi, float* p, int64_t total, int64_t hw) {
  CUVIZ_GRID_LOOP(i, total) {
    const int c = int((i / hw) % 3);
    p[i] = fminf(fmaxf(p[i], lo.v[c]), hi.v[c]);
  }
}

__global__ void decay_kernel(float decay, float scale_end, int steps, StepIndex step, const float* p, float* g,
                             int64_t total) {
  const float f = linear_schedule(1.f, scale_end, int64_t(step.get()), steps);
  CUVIZ_GRID_LOOP(i, total) g[i] = (g[i] + decay * p[i]) * f;
}

}  // namespace

void input_to_image_cuda(const Preprocess& pre, const Tensor& x, const Tensor& image) {
  const int64_t hw = int64_t(x.h()) * x.w();
  input_to_image_kernel<<<blocks_for(x.numel()), kThreads, 0, current_stream()>>>(pre, x.data(), image.data(), x.n(),
                                                                                   hw);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void input_to_image_backward_add_cuda(const Preprocess& pre, const Tensor& dimage, const Tensor& dx) {
  const int64_t hw = int64_t(dx.h()) * dx.w();
  input_to_image_backward_kernel<<<blocks_for(dx.numel()), kThreads, 0, current_stream()>>>(pre, dimage.data(),
                                                                                            dx.data(), dx.n(), hw);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void roll_cuda(int max_shift, uint64_t seed, StepIndex step, int sign, const Tensor& in, const Tensor& out) {
  roll_kernel<<<blocks_for(in.numel()), kThreads, 0, current_stream()>>>(max_shift, seed, step, sign, in.data(),
                                                                         out.data(), in.n(), in.c(), in.h(), in.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void crop_cuda(bool random, uint64_t seed, StepIndex step, bool backward, const Tensor& small, const Tensor& big) {
  const int64_t total = backward ? big.numel() : small.numel();
  crop_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(random, seed, step, backward, small.data(),
                                                                    big.data(), small.n(), small.c(), small.h(),
                                                                    small.w(), big.h(), big.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void blur_scheduled_cuda(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, const Tensor& p,
                         const Tensor& tmp) {
  const int64_t planes = int64_t(p.n()) * p.c();
  blur_kernel<<<blocks_for(p.numel()), kThreads, 0, current_stream()>>>(sigma_start, sigma_end, radius, steps, step,
                                                                        true, p.data(), tmp.data(), planes, p.h(),
                                                                        p.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
  blur_kernel<<<blocks_for(p.numel()), kThreads, 0, current_stream()>>>(sigma_start, sigma_end, radius, steps, step,
                                                                        false, tmp.data(), p.data(), planes, p.h(),
                                                                        p.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void blur_scheduled_window_cuda(float sigma_start, float sigma_end, int radius, int steps, StepIndex step, int crop,
                                uint64_t seed, const Tensor& p, const Tensor& tmp) {
  const int64_t total = int64_t(p.n()) * 3 * crop * crop;
  blur_window_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(
      sigma_start, sigma_end, radius, steps, step, crop, seed, true, p.data(), tmp.data(), p.n(), p.h(), p.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
  blur_window_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(
      sigma_start, sigma_end, radius, steps, step, crop, seed, false, tmp.data(), p.data(), p.n(), p.h(), p.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void blur_scheduled_adjoint_cuda(float sigma_start, float sigma_end, int radius, int steps, StepIndex step,
                                 const Tensor& p, const Tensor& tmp) {
  const int64_t planes = int64_t(p.n()) * p.c();
  blur_adjoint_kernel<<<blocks_for(p.numel()), kThreads, 0, current_stream()>>>(
      sigma_start, sigma_end, radius, steps, step, false, p.data(), tmp.data(), planes, p.h(), p.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
  blur_adjoint_kernel<<<blocks_for(p.numel()), kThreads, 0, current_stream()>>>(
      sigma_start, sigma_end, radius, steps, step, true, tmp.data(), p.data(), planes, p.h(), p.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void resize_axis_cuda(bool adjoint, bool along_w, const Tensor& in, const Tensor& out) {
  const int64_t planes = int64_t(in.n()) * in.c();
  resize_axis_kernel<<<blocks_for(out.numel()), kThreads, 0, current_stream()>>>(
      adjoint, along_w, in.data(), out.data(), planes, in.h(), in.w(), out.h(), out.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void clip_channels_cuda(const float lo[3], const float hi[3], const Tensor& p) {
  const Channels l{{lo[0], lo[1], lo[2]}}, u{{hi[0], hi[1], hi[2]}};
  clip_kernel<<<blocks_for(p.numel()), kThreads, 0, current_stream()>>>(l, u, p.data(), p.numel(),
                                                                        int64_t(p.h()) * p.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void decay_and_schedule_cuda(float decay, float scale_end, int steps, StepIndex step, const Tensor& p,
                             const Tensor& g) {
  decay_kernel<<<blocks_for(p.numel()), kThreads, 0, current_stream()>>>(decay, scale_end, steps, step, p.data(),
                                                                         g.data(), p.numel());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
