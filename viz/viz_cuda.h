// The CUDA implementations behind the viz/ ops' device dispatch, defined in viz/*.cu, or in
// viz/viz_cuda_disabled.cpp (throwing) when cuviz is built without CUDA. Arguments are already
// checked by the dispatching function (shapes, devices, dense layouts).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "viz/fourier_param.h"
#include "viz/regularizers.h"
#include "viz/transform.h"

namespace cuviz {

// tables: cos_h | sin_h | cos_w | sin_w | scale on the device; workspace: {N,3,H,Wh,2} + {N,3,H,W} floats.
void image_param_forward_cuda(const ImageParamSpec& spec, const float* tables, float* workspace, const Tensor& params,
                              const Tensor& image);
void image_param_backward_cuda(const ImageParamSpec& spec, const float* tables, float* workspace, const Tensor& image,
                               const Tensor& dimage, const Tensor& dparams);
void transform_forward_cuda(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                            const Tensor& image, const Tensor& out);
void transform_backward_cuda(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                             const Tensor& dout, const Tensor& dimage);
void regularizer_forward_backward_cuda(RegKind kind, float constant, const Tensor& image, const Tensor& values,
                                       float weight, const Tensor& dimage, float power);

}  // namespace cuviz
