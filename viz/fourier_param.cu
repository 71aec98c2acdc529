// Image parameterizations on CUDA: the two DFT passes and the colour stage as grid-stride
// kernels over the per-element maths of viz/fourier_param.h (the code the CPU tests check).
//   forward : rows (spectrum scale + complex inverse along H) -> cols (real inverse along W)
//             fused with decorrelation + sigmoid
//   backward: colour adjoint -> cols adjoint -> rows adjoint (+ scale)
#include <algorithm>
#include <cmath>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "viz/viz_cuda.h"

namespace cuviz {

namespace {

constexpr int kThreads = 256;
int blocks_for(int64_t total) { return int(std::min<int64_t>((total + kThreads - 1) / kThreads, 65535)); }

// Views into the packed device tables: cos_h | sin_h | cos_w | sin_w | scale.
struct Tables {
  const float *cos_h, *sin_h, *cos_w, *sin_w, *scale;
};
Tables tables_of(const ImageParamSpec& s, const float* t) {
  return Tables{t, t + s.h, t + 2 * s.h, t + 2 * s.h + s.w, t + 2 * s.h + 2 * s.w};
}

__global__ void rows_kernel(const float* spec, float* y, Tables tab, int nc, int h, int wh) {
  const int64_t total = int64_t(nc) * h * wh, plane = int64_t(h) * wh * 2;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int kx = int(i % wh), r = int((i / wh) % h);
    const int64_t p = i / (int64_t(wh) * h);
    float* out = y + p * plane + (int64_t(r) * wh + kx) * 2;
    fourier_rows_at(spec + p * plane, tab.scale, tab.cos_h, tab.sin_h, h, wh, r, kx, out[0], out[1]);
  }
}

__global__ void cols_color_kernel(const float* y, float* image, Tables tab, int n, int h, int w, int wh, float norm,
                                  bool decorrelate) {
  const int64_t plane = int64_t(h) * w, total = int64_t(n) * plane, yplane = int64_t(h) * wh * 2;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int x = int(i % w), r = int((i / w) % h);
    const int64_t img = i / plane;
    float* px = image + img * 3 * plane + int64_t(r) * w + x;
    for (int c = 0; c < 3; ++c)
      px[c * plane] = fourier_cols_at(y + (img * 3 + c) * yplane, tab.cos_w, tab.sin_w, w, wh, r, x, norm);
    rgb_from_t_at(px, px, plane, decorrelate);
  }
}

__global__ void pixel_color_kernel(const float* params, float* image, int n, int64_t plane, bool decorrelate) {
  const int64_t total = int64_t(n) * plane;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = (i / plane) * 3 * plane + i % plane;
    for (int c = 0; c < 3; ++c) image[o + c * plane] = params[o + c * plane];
    rgb_from_t_at(image + o, image + o, plane, decorrelate);
  }
}

__global__ void color_backward_kernel(const float* image, const float* dimage, float* dt, int n, int64_t plane,
                                      bool decorrelate) {
  const int64_t total = int64_t(n) * plane;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = (i / plane) * 3 * plane + i % plane;
    rgb_from_t_backward_at(image + o, dimage + o, dt + o, plane, decorrelate);
  }
}

__global__ void cols_adjoint_kernel(const float* dt, float* dy, Tables tab, int nc, int h, int w, int wh, float norm) {
  const int64_t total = int64_t(nc) * h * wh, plane = int64_t(h) * w, yplane = int64_t(h) * wh * 2;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int kx = int(i % wh), r = int((i / wh) % h);
    const int64_t p = i / (int64_t(wh) * h);
    float* out = dy + p * yplane + (int64_t(r) * wh + kx) * 2;
    fourier_cols_adjoint_at(dt + p * plane, tab.cos_w, tab.sin_w, w, r, kx, norm, out[0], out[1]);
  }
}

__global__ void rows_adjoint_kernel(const float* dy, float* dspec, Tables tab, int nc, int h, int wh) {
  const int64_t total = int64_t(nc) * h * wh, plane = int64_t(h) * wh * 2;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int kx = int(i % wh), ky = int((i / wh) % h);
    const int64_t p = i / (int64_t(wh) * h);
    float* out = dspec + p * plane + (int64_t(ky) * wh + kx) * 2;
    fourier_rows_adjoint_at(dy + p * plane, tab.scale, tab.cos_h, tab.sin_h, h, wh, ky, kx, out[0], out[1]);
  }
}

// The same expression as FourierTables<float>::norm.
float norm_of(const ImageParamSpec& s) { return 1.f / (std::sqrt(float(s.h) * float(s.w)) * 4.f); }

}  // namespace

// kernel launchers

void image_param_forward_cuda(const ImageParamSpec& s, const float* tables, float* workspace, const Tensor& params,
                              const Tensor& image) {
  const int64_t plane = int64_t(s.h) * s.w;
  if (s.kind == ParamKind::pixel) {
    pixel_color_kernel<<<blocks_for(s.n * plane), kThreads, 0, current_stream()>>>(params.data(), image.data(), s.n,
                                                                                   plane, s.decorrelate);
    CUVIZ_CUDA_LAUNCH_CHECK();
    return;
  }
  const Tables tab = tables_of(s, tables);
  rows_kernel<<<blocks_for(int64_t(s.n) * 3 * s.h * s.wh()), kThreads, 0, current_stream()>>>(
      params.data(), workspace, tab, s.n * 3, s.h, s.wh());
  CUVIZ_CUDA_LAUNCH_CHECK();
  cols_color_kernel<<<blocks_for(s.n * plane), kThreads, 0, current_stream()>>>(workspace, image.data(), tab, s.n, s.h,
                                                                                s.w, s.wh(), norm_of(s), s.decorrelate);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void image_param_backward_cuda(const ImageParamSpec& s, const float* tables, float* workspace, const Tensor& image,
                               const Tensor& dimage, const Tensor& dparams) {
  const int64_t plane = int64_t(s.h) * s.w;
  float* dy = workspace;
  float* dt = s.kind == ParamKind::pixel ? dparams.data() : workspace + int64_t(s.n) * 3 * s.h * s.wh() * 2;
  color_backward_kernel<<<blocks_for(s.n * plane), kThreads, 0, current_stream()>>>(image.data(), dimage.data(), dt,
                                                                                    s.n, plane, s.decorrelate);
  CUVIZ_CUDA_LAUNCH_CHECK();
  if (s.kind == ParamKind::pixel) return;
  const Tables tab = tables_of(s, tables);
  const int64_t spectral = int64_t(s.n) * 3 * s.h * s.wh();
  cols_adjoint_kernel<<<blocks_for(spectral), kThreads, 0, current_stream()>>>(dt, dy, tab, s.n * 3, s.h, s.w, s.wh(),
                                                                               norm_of(s));
  CUVIZ_CUDA_LAUNCH_CHECK();
  rows_adjoint_kernel<<<blocks_for(spectral), kThreads, 0, current_stream()>>>(dy, dparams.data(), tab, s.n * 3, s.h,
                                                                               s.wh());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
