// Sigmoid CUDA kernels: the element-wise map of kernels/elementwise.cuh (one thread per element,
// grid-stride, on the current stream), the maths shared with the CPU loop through
// sigmoid_value / sigmoid_grad in kernels/sigmoid.h.
#include "kernels/cuda_ops.h"
#include "kernels/elementwise.cuh"
#include "kernels/sigmoid.h"

namespace cuviz {

namespace {
struct SigmoidValue {
  __device__ float operator()(float x) const { return sigmoid_value(x); }
};
struct SigmoidGrad {
  __device__ float operator()(float y, float dy) const { return sigmoid_grad(y, dy); }
};
}  // namespace

// kernel launchers

void sigmoid_forward_cuda(const Tensor& x, const Tensor& y) { map_elements_cuda(x, y, SigmoidValue{}); }

void sigmoid_backward_data_cuda(const Tensor& y, const Tensor& dy, const Tensor& dx) {
  map_elements_cuda(y, dy, dx, SigmoidGrad{});
}

}  // namespace cuviz
