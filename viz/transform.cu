// Transforms on CUDA. Each thread draws its image's affine map itself (draw_affine is counter-
// based, so nothing is uploaded per step; the step itself may come from a counter in device
// memory, StepIndex) and uses the shared bilinear arithmetic.
//   forward : one thread per output sample (gather of four canvas taps, then preprocessing)
//   backward: one thread per image pixel GATHERS the outputs whose taps touch it
//             (affine_adjoint_gather_at) instead of a scatter with atomics: the sum then has a
//             fixed order and the step is bit-for-bit deterministic.
#include <algorithm>
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "viz/viz_cuda.h"

namespace cuviz {

namespace {

constexpr int kThreads = 256;
int blocks_for(int64_t total) { return int(std::min<int64_t>((total + kThreads - 1) / kThreads, 65535)); }

__global__ void transform_forward_kernel(TransformSpec spec, Preprocess pre, uint64_t seed, StepIndex step,
                                         const float* image, int64_t istride, float* out, int64_t ostride, int n,
                                         int h, int w) {
  const int64_t plane = int64_t(h) * w, total = int64_t(n) * 3 * plane;
  const int hp = h + 2 * spec.pad, wp = w + 2 * spec.pad;
  const uint64_t t = step.get();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int ox = int(i % w), oy = int((i / w) % h), c = int((i / plane) % 3), img = int(i / (3 * plane));
    const float* src = image + img * istride + pre.src[c] * plane;
    float v = src[int64_t(oy) * w + ox];
    if (spec.enabled) {
      const Affine a = draw_affine(spec, h, w, seed, t, img);
      v = resample_at(src, affine_taps<float>(a, oy, ox, h, w, hp, wp), h, w, spec.pad, spec.pad_value);
    }
    out[img * ostride + c * plane + int64_t(oy) * w + ox] = v * pre.scale[c] + pre.offset[c];
  }
}

__global__ void transform_backward_kernel(TransformSpec spec, Preprocess pre, uint64_t seed, StepIndex step,
                                          const float* dout, int64_t ostride, float* dimage, int64_t istride, int n,
                                          int h, int w) {
  const int64_t plane = int64_t(h) * w, total = int64_t(n) * 3 * plane;
  const uint64_t t = step.get();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int x = int(i % w), y = int((i / w) % h), ch = int((i / plane) % 3), img = int(i / (3 * plane));
    float* dst = dimage + img * istride + ch * plane + int64_t(y) * w + x;
    int c = -1;  // the network channel that reads image channel ch
    for (int k = 0; k < 3; ++k)
      if (pre.src[k] == ch) c = k;
    if (c < 0) {
      *dst = 0.f;
      continue;
    }
    const float* g = dout + img * ostride + c * plane;
    if (!spec.enabled) {
      *dst = g[int64_t(y) * w + x] * pre.scale[c];
      continue;
    }
    const Affine a = draw_affine(spec, h, w, seed, t, img);
    *dst = pre.scale[c] * affine_adjoint_gather_at(a, g, y, x, h, w, spec.pad);
  }
}

}  // namespace

// kernel launchers

void transform_forward_cuda(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                            const Tensor& image, const Tensor& out) {
  transform_forward_kernel<<<blocks_for(image.numel()), kThreads, 0, current_stream()>>>(
      spec, pre, seed, step, image.data(), image.batch_stride(), out.data(), out.batch_stride(), image.n(), image.h(),
      image.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void transform_backward_cuda(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                             const Tensor& dout, const Tensor& dimage) {
  // With pad >= 1, outputs whose coordinates were clamped to the canvas border only touch pad
  // pixels, so the inverse-map window finds every output that reaches an image pixel.
  CUVIZ_CHECK(!spec.enabled || spec.pad >= 1, "transform_backward (CUDA): needs pad >= 1, got ", spec.pad);
  transform_backward_kernel<<<blocks_for(dout.numel()), kThreads, 0, current_stream()>>>(
      spec, pre, seed, step, dout.data(), dout.batch_stride(), dimage.data(), dimage.batch_stride(), dout.n(), dout.h(),
      dout.w());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
