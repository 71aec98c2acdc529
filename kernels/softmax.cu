// Softmax and log-softmax over channels on CUDA, one thread per pixel (n, h, w) walking the
// channels (consecutive threads read consecutive pixels of a channel plane: coalesced):
//   y_c = exp(x_c - m) / sum_c' exp(x_c' - m)   or   y_c = (x_c - m) - log sum_c' exp(x_c' - m)
//   dx = y (dy - <dy, y>)                       or   dx = dy - exp(y) sum_c' dy_c'
// Each thread reads element c of its pixel before it writes element c, so y may be x and dx may be dy.
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/softmax.h"

namespace cuviz {

namespace {

__global__ void softmax_forward_kernel(const float* x, int64_t x_stride, float* y, int64_t y_stride, int C,
                                       int64_t HW, int64_t pixels, bool log) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < pixels; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = e / HW, pix = e % HW;
    const float* xp = x + n * x_stride + pix;
    float* yp = y + n * y_stride + pix;
    float m = xp[0];
    for (int c = 1; c < C; ++c) m = fmaxf(m, xp[c * HW]);
    float sum = 0.f;
    for (int c = 0; c < C; ++c) sum += expf(xp[c * HW] - m);
    if (log) {
      const float log_sum = logf(sum);  // (x - m) - log sum: see kernels/softmax.cpp
      for (int c = 0; c < C; ++c) yp[c * HW] = (xp[c * HW] - m) - log_sum;
    } else {
      for (int c = 0; c < C; ++c) yp[c * HW] = expf(xp[c * HW] - m) / sum;
    }
  }
}

__global__ void softmax_backward_kernel(const float* y, int64_t y_stride, const float* dy, int64_t dy_stride,
                                        float* dx, int64_t dx_stride, int C, int64_t HW, int64_t pixels, bool log) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < pixels; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = e / HW, pix = e % HW;
    const float* yp = y + n * y_stride + pix;
    const float* dyp = dy + n * dy_stride + pix;
    float* dxp = dx + n * dx_stride + pix;
    float s = 0.f;
    for (int c = 0; c < C; ++c) s += log ? dyp[c * HW] : dyp[c * HW] * yp[c * HW];
    for (int c = 0; c < C; ++c)
      dxp[c * HW] = log ? dyp[c * HW] - expf(yp[c * HW]) * s : yp[c * HW] * (dyp[c * HW] - s);
  }
}

int blocks_for(int64_t total, int threads) { return int(std::min<int64_t>((total + threads - 1) / threads, 65535)); }

void forward(const Tensor& x, const Tensor& y, bool log) {
  const int64_t HW = int64_t(x.h()) * x.w(), pixels = HW * x.n();
  if (pixels == 0 || x.c() == 0) return;
  softmax_forward_kernel<<<blocks_for(pixels, 128), 128, 0, current_stream()>>>(
      x.data(), x.batch_stride(), y.data(), y.batch_stride(), x.c(), HW, pixels, log);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void backward(const Tensor& y, const Tensor& dy, const Tensor& dx, bool log) {
  const int64_t HW = int64_t(y.h()) * y.w(), pixels = HW * y.n();
  if (pixels == 0 || y.c() == 0) return;
  softmax_backward_kernel<<<blocks_for(pixels, 128), 128, 0, current_stream()>>>(
      y.data(), y.batch_stride(), dy.data(), dy.batch_stride(), dx.data(), dx.batch_stride(), y.c(), HW, pixels, log);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace

// kernel launchers

void softmax_forward_cuda(const Tensor& x, const Tensor& y) { forward(x, y, false); }
void log_softmax_forward_cuda(const Tensor& x, const Tensor& y) { forward(x, y, true); }
void softmax_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx) { backward(y, dy, dx, false); }
void log_softmax_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  backward(y, dy, dx, true);
}

}  // namespace cuviz
