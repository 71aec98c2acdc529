// Device-to-device copy of a batch-strided tensor view (dense images at any batch stride) as one
// 2-D memcpy: rows are images, row pitch the batch stride. Used by concat and dropout.
#pragma once

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "core/tensor.h"

namespace cuviz {

// dst = src (same shape, both on the device); nothing to do when they are the same view.
inline void copy_view_cuda(const Tensor& src, const Tensor& dst) {
  if (src.numel() == 0 || (src.data() == dst.data() && src.batch_stride() == dst.batch_stride())) return;
  const size_t width = size_t(src.shape().image_size()) * sizeof(float);
  // A single image may carry any stride; the 2-D copy only needs pitch >= width.
  const size_t spitch = src.n() > 1 ? size_t(src.batch_stride()) * sizeof(float) : width;
  const size_t dpitch = dst.n() > 1 ? size_t(dst.batch_stride()) * sizeof(float) : width;
  CUVIZ_CUDA_CHECK(cudaMemcpy2DAsync(dst.data(), dpitch, src.data(), spitch, width, size_t(src.n()),
                                     cudaMemcpyDeviceToDevice, current_stream()));
}

}  // namespace cuviz
