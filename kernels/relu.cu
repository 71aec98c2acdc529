// ReLU CUDA kernels: one thread per element (grid-stride), the maths shared with the CPU loop
// through relu_value / relu_grad in kernels/relu.h.
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/elementwise.cuh"
#include "kernels/relu.h"

namespace cuviz {

namespace {

// The element-wise forward and backwards (kernels/elementwise.cuh); Grad is PlainGrad (relu_grad)
// or GuidedGrad (relu_grad_guided).
struct ReluValue {
  __device__ float operator()(float x) const { return relu_value(x); }
};
struct PlainGrad {
  __device__ float operator()(float y, float dy) const { return relu_grad(y, dy); }
};
struct GuidedGrad {
  __device__ float operator()(float y, float dy) const { return relu_grad_guided(y, dy); }
};

// One block per image: first whether any plain gradient passes, then the chosen rule. In place
// (dx == dy) is safe: every read of the first loop happens before the barrier.
__global__ void relu_backward_redirected_kernel(const float* y, int64_t y_stride, const float* dy, int64_t dy_stride,
                                                float* dx, int64_t dx_stride, int64_t m) {
  const float* yi = y + blockIdx.x * y_stride;
  const float* dyi = dy + blockIdx.x * dy_stride;
  float* dxi = dx + blockIdx.x * dx_stride;
  int any = 0;
  for (int64_t k = threadIdx.x; k < m; k += blockDim.x) any |= relu_grad(yi[k], dyi[k]) != 0.f;
  const bool passes = __syncthreads_or(any) != 0;
  for (int64_t k = threadIdx.x; k < m; k += blockDim.x)
    dxi[k] = passes ? relu_grad(yi[k], dyi[k]) : relu_grad_redirected(yi[k], dyi[k]);
}

// One thread per mask word: 32 consecutive elements of one image.
__global__ void relu_mask_kernel(const float* y, int64_t y_stride, uint32_t* mask, int64_t m, int64_t words,
                                 int n) {
  const int64_t total = words * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / words, w = i % words;
    const float* yi = y + img * y_stride;
    uint32_t bits = 0;
    for (int64_t b = 0, k = w * 32; b < 32 && k < m; ++b, ++k) bits |= uint32_t(yi[k] > 0.f) << b;
    mask[i] = bits;
  }
}

// The plain masked backward: one thread per element (grid-stride over the whole batch), like
// the element-wise map. Every step of a render runs it for every ReLU, so it must fill the GPU;
// a block per image would leave all but N SMs idle. In place is safe: each thread reads dy[k]
// before writing dx[k] and no other thread touches k.
// Guided backpropagation's masked form uses it too (Grad = GuidedGrad).
template <class Grad>
__global__ void relu_backward_masked_kernel(const uint32_t* mask, int64_t words, const float* dy, int64_t dy_stride,
                                            float* dx, int64_t dx_stride, int64_t m, int n, Grad grad) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / m, k = i % m;
    dx[img * dx_stride + k] = grad(mask_bit(mask + img * words, k) ? 1.f : 0.f, dy[img * dy_stride + k]);
  }
}

// The redirected masked backward: one block per image, as relu_backward_redirected_kernel (the
// rule needs a vote over the whole image; it runs only in the first, eager, override steps).
__global__ void relu_backward_masked_redirected_kernel(const uint32_t* mask, int64_t words, const float* dy,
                                                       int64_t dy_stride, float* dx, int64_t dx_stride, int64_t m) {
  const uint32_t* wi = mask + blockIdx.x * words;
  const float* dyi = dy + blockIdx.x * dy_stride;
  float* dxi = dx + blockIdx.x * dx_stride;
  int any = 0;
  for (int64_t k = threadIdx.x; k < m; k += blockDim.x) any |= relu_grad(mask_bit(wi, k) ? 1.f : 0.f, dyi[k]) != 0.f;
  const bool passes = __syncthreads_or(any) != 0;  // every thread reaches it: no early exit above
  for (int64_t k = threadIdx.x; k < m; k += blockDim.x) {
    const float on = mask_bit(wi, k) ? 1.f : 0.f;
    dxi[k] = passes ? relu_grad(on, dyi[k]) : relu_grad_redirected(on, dyi[k]);
  }
}

int blocks_for(int64_t total, int threads) { return int(std::min<int64_t>((total + threads - 1) / threads, 65535)); }

}  // namespace

// kernel launchers

void relu_forward_cuda(const Tensor& x, const Tensor& y) { map_elements_cuda(x, y, ReluValue{}); }

void relu_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  map_elements_cuda(y, dy, dx, PlainGrad{});
}

void relu_backward_data_redirected_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  const int64_t m = y.shape().image_size();
  if (m == 0 || y.n() == 0) return;
  relu_backward_redirected_kernel<<<y.n(), 512, 0, current_stream()>>>(
      y.data(), y.batch_stride(), dy.data(), dy.batch_stride(), dx.data(), dx.batch_stride(), m);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void relu_mask_forward_cuda(const Tensor& y, const MaskTensor& mask) {
  const int64_t m = y.shape().image_size(), words = relu_mask_words(m), total = words * y.n();
  if (total == 0) return;
  relu_mask_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(y.data(), y.batch_stride(), mask.data(), m,
                                                                         words, y.n());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void relu_backward_data_masked_cuda(const MaskTensor& mask, const Tensor& dy, const Tensor& dx, bool redirected) {
  const int64_t m = dy.shape().image_size(), total = m * dy.n();
  if (total == 0) return;
  if (redirected)
    relu_backward_masked_redirected_kernel<<<dy.n(), 512, 0, current_stream()>>>(
        mask.data(), relu_mask_words(m), dy.data(), dy.batch_stride(), dx.data(), dx.batch_stride(), m);
  else
    relu_backward_masked_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(
        mask.data(), relu_mask_words(m), dy.data(), dy.batch_stride(), dx.data(), dx.batch_stride(), m, dy.n(),
        PlainGrad{});
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void relu_backward_data_guided_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  map_elements_cuda(y, dy, dx, GuidedGrad{});
}

void relu_backward_data_guided_masked_cuda(const MaskTensor& mask, const Tensor& dy, const Tensor& dx) {
  const int64_t m = dy.shape().image_size(), total = m * dy.n();
  if (total == 0) return;
  relu_backward_masked_kernel<<<blocks_for(total, 256), 256, 0, current_stream()>>>(
      mask.data(), relu_mask_words(m), dy.data(), dy.batch_stride(), dx.data(), dx.batch_stride(), m, dy.n(),
      GuidedGrad{});
  CUVIZ_CUDA_LAUNCH_CHECK();
}

}  // namespace cuviz
