// Pool2d CUDA kernels (max / average, padding, ceil mode, dilation, global), one thread per
// output element forward and one per input element backward:
//   forward   y[i,j]  = max / (sum / divisor) over the real taps x[i*sh - pt + a*dh, j*sw - pl + b*dw]
//   backward  dx[h,w] = sum over the windows (i,j) containing (h,w) of dy[i,j] / divisor (average),
//             or of dy[i,j] when (h,w) is the window's first tap equal to y[i,j] (max, recomputed).
// The backward gathers (each dx element scans the windows that contain it), so it needs no
// atomics and adds the windows in the same (i, j) order as the CPU loop: results agree bitwise.
// Each window's start, real taps and divisor come from pool_window (kernels/pool_window.h), the
// rule the CPU path tabulates in plan_axis; the backward's inverse from pool_windows_containing.
#include <limits>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "core/host_device.h"
#include "kernels/pool2d.h"
#include "kernels/pool_window.h"

namespace cuviz {

namespace {

struct PoolGeom {
  int H, W, OH, OW, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  bool is_max, include_pad;
  int64_t x_stride, y_stride, dy_stride, dx_stride;
  int C;
};

// Window (i, ...) along the rows and (..., j) along the columns.
__device__ PoolWindow row_window(const PoolGeom& g, int i) {
  return pool_window(i, g.H, g.kh, g.sh, g.pt, g.pb, g.dh, g.include_pad);
}
__device__ PoolWindow col_window(const PoolGeom& g, int j) {
  return pool_window(j, g.W, g.kw, g.sw, g.pl, g.pr, g.dw, g.include_pad);
}

// Output element e of the NCHW output, as (image, channel, row, column).
struct OutputAt {
  int n, c, i, j;
};
__device__ OutputAt output_at(const PoolGeom& g, int64_t e) {
  const int64_t plane = e / (int64_t(g.OW) * g.OH);
  return {int(plane / g.C), int(plane % g.C), int(e / g.OW % g.OH), int(e % g.OW)};
}

__global__ void pool_forward_kernel(PoolGeom g, const float* x, float* y, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const auto [n, c, i, j] = output_at(g, e);
    const float* xp = x + n * g.x_stride + int64_t(c) * g.H * g.W;
    const PoolWindow wr = row_window(g, i), wc = col_window(g, j);
    const int h0 = wr.start, w0 = wc.start;
    const PoolRange r = wr.taps, cc = wc.taps;
    float acc = g.is_max ? -INFINITY : 0.f;
    for (int a = r.begin; a < r.end; ++a) {
      const float* row = xp + int64_t(h0 + a * g.dh) * g.W;
      for (int b = cc.begin; b < cc.end; ++b) {
        const float v = row[w0 + b * g.dw];
        acc = g.is_max ? (acc < v ? v : acc) : acc + v;  // std::max(acc, v), as on the CPU
      }
    }
    y[n * g.y_stride + int64_t(c) * g.OH * g.OW + int64_t(i) * g.OW + j] =
        g.is_max ? acc : acc / float(wr.count * wc.count);
  }
}

// pool_forward_kernel for max pooling, also recording each window's winner (pool2d.h winner_step).
__global__ void pool_forward_winners_kernel(PoolGeom g, const float* x, float* y, int32_t* winners, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const auto [n, c, i, j] = output_at(g, e);
    const float* xp = x + n * g.x_stride + int64_t(c) * g.H * g.W;
    const PoolWindow wr = row_window(g, i), wc = col_window(g, j);
    const int h0 = wr.start, w0 = wc.start;
    const PoolRange r = wr.taps, cc = wc.taps;
    float acc = -INFINITY;
    int32_t best = -1;
    for (int a = r.begin; a < r.end; ++a)
      for (int b = cc.begin; b < cc.end; ++b) {
        const int32_t at = (h0 + a * g.dh) * g.W + w0 + b * g.dw;
        winner_step(xp[at], at, acc, best);
      }
    y[n * g.y_stride + int64_t(c) * g.OH * g.OW + int64_t(i) * g.OW + j] = acc;
    winners[e] = best;  // dense, in y's element order
  }
}

__global__ void pool_backward_kernel(PoolGeom g, const float* x, const float* y, const float* dy, float* dx,
                                     int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int w = int(e % g.W), h = int(e / g.W % g.H);
    const int64_t plane = e / (int64_t(g.W) * g.H);
    const int n = int(plane / g.C), c = int(plane % g.C);
    const float* xp = x + n * g.x_stride + int64_t(c) * g.H * g.W;
    const float* yp = y + n * g.y_stride + int64_t(c) * g.OH * g.OW;
    const float* dyp = dy + n * g.dy_stride + int64_t(c) * g.OH * g.OW;
    const PoolRange wi = pool_windows_containing(h, g.kh, g.sh, g.pt, g.dh, g.OH);
    const PoolRange wj = pool_windows_containing(w, g.kw, g.sw, g.pl, g.dw, g.OW);
    float sum = 0.f;
    for (int i = wi.begin; i < wi.end; ++i) {
      const PoolWindow wr = row_window(g, i);
      const int h0 = wr.start;
      if ((h - h0) % g.dh != 0) continue;
      for (int j = wj.begin; j < wj.end; ++j) {
        const PoolWindow wc = col_window(g, j);
        const int w0 = wc.start;
        if ((w - w0) % g.dw != 0) continue;
        const int64_t o = int64_t(i) * g.OW + j;
        if (!g.is_max) {
          sum += dyp[o] / float(wr.count * wc.count);
          continue;
        }
        // Recompute the window's first tap (scan order) equal to its maximum.
        const float target = yp[o];
        const PoolRange r = wr.taps, cc = wc.taps;
        int first_h = -1, first_w = -1;
        for (int a = r.begin; a < r.end && first_h < 0; ++a)
          for (int b = cc.begin; b < cc.end; ++b)
            if (xp[int64_t(h0 + a * g.dh) * g.W + w0 + b * g.dw] == target) {
              first_h = h0 + a * g.dh;
              first_w = w0 + b * g.dw;
              break;
            }
        if (first_h == h && first_w == w) sum += dyp[o];
      }
    }
    dx[n * g.dx_stride + int64_t(c) * g.H * g.W + int64_t(h) * g.W + w] = sum;
  }
}

// pool_backward_kernel's gather with the recorded winners: dx[h,w] sums, in (i, j) order, the
// dy of the windows whose winner is (h, w). A gather rather than a scatter: no atomics, and the
// same order of additions as the CPU scatter, so the results agree bitwise.
__global__ void pool_backward_winners_kernel(PoolGeom g, const int32_t* winners, const float* dy, float* dx,
                                             int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int w = int(e % g.W), h = int(e / g.W % g.H);
    const int64_t plane = e / (int64_t(g.W) * g.H);
    const int n = int(plane / g.C), c = int(plane % g.C);
    const int64_t out_plane = (int64_t(n) * g.C + c) * g.OH * g.OW;
    const int32_t* wp = winners + out_plane;
    const float* dyp = dy + n * g.dy_stride + int64_t(c) * g.OH * g.OW;
    const PoolRange wi = pool_windows_containing(h, g.kh, g.sh, g.pt, g.dh, g.OH);
    const PoolRange wj = pool_windows_containing(w, g.kw, g.sw, g.pl, g.dw, g.OW);
    const int32_t here = h * g.W + w;
    float sum = 0.f;
    for (int i = wi.begin; i < wi.end; ++i)
      for (int j = wj.begin; j < wj.end; ++j) {
        const int64_t o = int64_t(i) * g.OW + j;
        if (wp[o] == here) sum += dyp[o];
      }
    dx[n * g.dx_stride + int64_t(c) * g.H * g.W + int64_t(h) * g.W + w] = sum;
  }
}

// Global pooling made explicit (kernel = input, stride 1, no padding), as on the CPU path.
PoolGeom make_geom(const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  PoolGeom g{};
  g.H = x.h();
  g.W = x.w();
  g.OH = y.h();
  g.OW = y.w();
  g.C = x.c();
  g.kh = p.global ? x.h() : p.kernel_h;
  g.kw = p.global ? x.w() : p.kernel_w;
  g.sh = p.global ? 1 : p.stride_h;
  g.sw = p.global ? 1 : p.stride_w;
  g.pt = p.global ? 0 : p.pad_top;
  g.pl = p.global ? 0 : p.pad_left;
  g.pb = p.global ? 0 : p.pad_bottom;
  g.pr = p.global ? 0 : p.pad_right;
  g.dh = p.global ? 1 : p.dilation_h;
  g.dw = p.global ? 1 : p.dilation_w;
  g.is_max = p.mode == PoolMode::max;
  g.include_pad = p.count_include_pad;
  g.x_stride = x.batch_stride();
  g.y_stride = y.batch_stride();
  return g;
}

int blocks_for(int64_t total, int threads) { return int(std::min<int64_t>((total + threads - 1) / threads, 65535)); }

}  // namespace

// kernel launchers

void pool2d_forward_cuda(const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  const PoolGeom g = make_geom(p, x, y);
  const int64_t total = y.numel();
  if (total == 0) return;
  pool_forward_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(g, x.data(), y.data(), total);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void pool2d_backward_data_cuda(const Pool2dParams& p, const Tensor& x, const Tensor& y, const Tensor& dy,
                               const Tensor& dx) {
  PoolGeom g = make_geom(p, x, y);
  g.dy_stride = dy.batch_stride();
  g.dx_stride = dx.batch_stride();
  const int64_t total = dx.numel();
  if (total == 0) return;
  pool_backward_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(g, x.data(), y.data(), dy.data(),
                                                                             dx.data(), total);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void pool2d_forward_winners_cuda(const Pool2dParams& p, const Tensor& x, const Tensor& y, const WinnerTensor& winners) {
  const PoolGeom g = make_geom(p, x, y);
  const int64_t total = y.numel();
  if (total == 0) return;
  pool_forward_winners_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(g, x.data(), y.data(),
                                                                                    winners.data(), total);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void pool2d_backward_data_winners_cuda(const Pool2dParams& p, const WinnerTensor& winners, const Tensor& dy,
                                       const Tensor& dx) {
  PoolGeom g = make_geom(p, dx, dy);
  g.dy_stride = dy.batch_stride();
  g.dx_stride = dx.batch_stride();
  const int64_t total = dx.numel();
  if (total == 0) return;
  pool_backward_winners_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(g, winners.data(), dy.data(),
                                                                                     dx.data(), total);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
