// Dropout at inference on CUDA: y = x and dx = dy, as device-to-device copies (none when the
// output is the input view).
#include "kernels/cuda_ops.h"
#include "kernels/dropout.h"
#include "kernels/tensor_copy.cuh"

namespace cuviz {

// kernel launchers

void dropout_forward_cuda(const Tensor& x, const Tensor& y) { copy_view_cuda(x, y); }
void dropout_backward_data_cuda(const Tensor& dy, const Tensor& dx) { copy_view_cuda(dy, dx); }

}  // namespace cuviz
