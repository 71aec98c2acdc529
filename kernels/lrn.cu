// LRN CUDA kernels, one thread per element, channel windows read straight from x:
//   forward   s[c] = k + alpha/size * sum_{c' in [c - (size-1)/2, c + size/2]} x[c']^2,  y[c] = x[c] s[c]^-beta
//   backward  dx[c] = dy[c] s[c]^-beta - 2 alpha beta / size * x[c] * sum_{c' in [c - size/2, c + (size-1)/2]} dy[c'] y[c'] / s[c']
// (c lies in window(c') exactly for those c'). Sums run in increasing channel order, as on the
// CPU. When the output overlaps an input (in-place use), the inputs are staged in a temporary first.
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/lrn.h"

#include <utility>

namespace cuviz {

namespace {

struct LrnGeom {
  int C;
  int64_t HW;
  int before, after;  // window(c) = [c - before, c + after]
  float k, coef, beta;
};

// s[c] of the pixel whose channel 0 is at xp (channels HW apart).
__device__ float lrn_scale(const LrnGeom& g, const float* xp, int c) {
  const int lo = c - g.before > 0 ? c - g.before : 0, hi = c + g.after < g.C - 1 ? c + g.after : g.C - 1;
  float acc = 0.f;
  for (int cc = lo; cc <= hi; ++cc) {
    const float v = xp[cc * g.HW];
    acc += v * v;
  }
  return g.k + g.coef * acc;
}

__global__ void lrn_forward_kernel(LrnGeom g, const float* x, int64_t x_stride, float* y, int64_t y_stride,
                                   int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pix = e % g.HW, nc = e / g.HW;
    const int c = int(nc % g.C), n = int(nc / g.C);
    const float* xp = x + n * x_stride + pix;
    y[n * y_stride + c * g.HW + pix] = xp[c * g.HW] * powf(lrn_scale(g, xp, c), -g.beta);
  }
}

__global__ void lrn_backward_kernel(LrnGeom g, const float* x, int64_t x_stride, const float* y, int64_t y_stride,
                                    const float* dy, int64_t dy_stride, float* dx, int64_t dx_stride, int64_t total) {
  const float coef2 = 2.f * g.coef * g.beta;  // 2 alpha beta / size
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pix = e % g.HW, nc = e / g.HW;
    const int c = int(nc % g.C), n = int(nc / g.C);
    const float* xp = x + n * x_stride + pix;
    const float* yp = y + n * y_stride + pix;
    const float* dyp = dy + n * dy_stride + pix;
    const int lo = c - g.after > 0 ? c - g.after : 0, hi = c + g.before < g.C - 1 ? c + g.before : g.C - 1;
    float acc = 0.f;
    for (int cc = lo; cc <= hi; ++cc) acc += dyp[cc * g.HW] * yp[cc * g.HW] / lrn_scale(g, xp, cc);
    dx[n * dx_stride + c * g.HW + pix] = dyp[c * g.HW] * powf(lrn_scale(g, xp, c), -g.beta) - coef2 * xp[c * g.HW] * acc;
  }
}

LrnGeom make_geom(const LrnParams& p, const Tensor& x) {
  return LrnGeom{x.c(), int64_t(x.h()) * x.w(), (p.size - 1) / 2, p.size / 2, p.k, p.alpha / float(p.size), p.beta};
}

// True when the memory spans of a and b intersect.
bool overlaps(const Tensor& a, const Tensor& b) {
  auto end = [](const Tensor& t) { return t.data() + (t.n() - 1) * t.batch_stride() + t.shape().image_size(); };
  return a.data() < end(b) && b.data() < end(a);
}

// A dense device copy of t in `scratch` (which holds at least t.numel() floats).
Tensor stage(const Tensor& t, float* scratch) {
  const size_t width = size_t(t.shape().image_size()) * sizeof(float);
  const size_t pitch = t.n() > 1 ? size_t(t.batch_stride()) * sizeof(float) : width;
  CUVIZ_CUDA_CHECK(cudaMemcpy2DAsync(scratch, width, t.data(), pitch, width, t.n(), cudaMemcpyDeviceToDevice,
                                     current_stream()));
  return Tensor(scratch, t.shape(), Device::cuda);
}

int blocks_for(int64_t total, int threads) { return int(std::min<int64_t>((total + threads - 1) / threads, 65535)); }

}  // namespace

// kernel launchers

// In place (or overlapping) calls read staged copies, since every output depends on a window of
// inputs that other threads overwrite. Networks never overlap them (LRN writes a fresh blob).
void lrn_forward_cuda(const LrnParams& p, const Tensor& x, const Tensor& y) {
  const int64_t total = x.numel();
  if (total == 0) return;
  const bool staged = overlaps(x, y);
  const DeviceScratch scratch(staged ? size_t(total) * sizeof(float) : 0);
  const Tensor xs = staged ? stage(x, scratch.data()) : x;
  lrn_forward_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(make_geom(p, x), xs.data(),
                                                                           xs.batch_stride(), y.data(),
                                                                           y.batch_stride(), total);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void lrn_backward_data_cuda(const LrnParams& p, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx) {
  const int64_t total = x.numel();
  if (total == 0) return;
  const bool sx = overlaps(x, dx), sy = overlaps(y, dx), sdy = overlaps(dy, dx);
  const DeviceScratch scratch(size_t(sx + sy + sdy) * size_t(total) * sizeof(float));
  float* next = scratch.data();
  auto staged = [&](bool s, const Tensor& t) { return s ? stage(t, std::exchange(next, next + total)) : t; };
  const Tensor xs = staged(sx, x), ys = staged(sy, y), dys = staged(sdy, dy);
  lrn_backward_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(
      make_geom(p, x), xs.data(), xs.batch_stride(), ys.data(), ys.batch_stride(), dys.data(), dys.batch_stride(),
      dx.data(), dx.batch_stride(), total);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
