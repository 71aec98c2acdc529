// The LRP element-wise steps on CUDA: one thread per element over the whole batch (grid-stride),
// each tensor with its own batch stride, on the current stream; the maths is kernels/lrp.h's
// CUVIZ_HD functions, the same the CPU loop runs.
#include "kernels/cuda_ops.h"
#include "kernels/elementwise.cuh"
#include "kernels/lrp.h"

namespace cuviz {

namespace {

// The strided address of element k of image i of one tensor argument (null: not read).
struct Arg {
  const float* p = nullptr;
  int64_t stride = 0;
  __device__ float at(int64_t img, int64_t k) const { return p ? p[img * stride + k] : 0.f; }
};

Arg arg(const Tensor& t) { return t.defined() ? Arg{t.data(), t.batch_stride()} : Arg{}; }

template <class F>
__global__ void map3_kernel(Arg a, Arg b, Arg c, float* y, int64_t y_stride, int64_t m, int n, F f) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / m, k = i % m;
    y[img * y_stride + k] = f(a.at(img, k), b.at(img, k), c.at(img, k));
  }
}

template <class F>
void map3_cuda(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& y, F f) {
  const int64_t m = y.shape().image_size(), total = m * y.n();
  if (total == 0) return;
  map3_kernel<<<elementwise_blocks(total), 256, 0, current_stream()>>>(arg(a), arg(b), arg(c), y.data(),
                                                                       y.batch_stride(), m, y.n(), f);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

struct Ratio {
  int z_sign;
  float eps;
  __device__ float operator()(float r, float den, float z) const { return lrp_ratio(r, den, z, z_sign, eps); }
};
struct Clamp {
  int sign;
  __device__ float operator()(float x, float, float) const { return lrp_clamp_value(x, sign); }
};
struct MultiplyAdd {
  float coef;
  __device__ float operator()(float a, float c, float y) const { return y + coef * a * c; }
};
struct Axpy {
  float alpha;
  __device__ float operator()(float x, float y, float) const { return y + alpha * x; }
};

}  // namespace

void lrp_divide_cuda(const Tensor& r, const Tensor& den, const Tensor& z, int z_sign, float eps, const Tensor& y) {
  map3_cuda(r, den, z_sign != 0 ? z : Tensor(), y, Ratio{z_sign, eps});
}

void lrp_clamp_cuda(const Tensor& x, int sign, const Tensor& y) { map3_cuda(x, Tensor(), Tensor(), y, Clamp{sign}); }

void lrp_multiply_cuda(const Tensor& a, const Tensor& c, float coef, bool accumulate, const Tensor& y) {
  // Not accumulating: the third argument is not read (y's old value counts as 0).
  map3_cuda(a, c, accumulate ? y : Tensor(), y, MultiplyAdd{coef});
}

void lrp_axpy_cuda(float alpha, const Tensor& x, const Tensor& y) { map3_cuda(x, y, Tensor(), y, Axpy{alpha}); }

}  // namespace cuviz
