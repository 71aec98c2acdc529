// Without CUDA no tensor can live on a device, so these are unreachable in practice; they exist
// so the dispatching viz/ ops link, and they say why if reached.
#include "viz/viz_cuda.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  throw Error(cat(op, ": this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)"));
}
}  // namespace

void image_param_forward_cuda(const ImageParamSpec&, const float*, float*, const Tensor&, const Tensor&) {
  no_cuda("image_param_forward");
}
void image_param_backward_cuda(const ImageParamSpec&, const float*, float*, const Tensor&, const Tensor&,
                               const Tensor&) {
  no_cuda("image_param_backward");
}
void transform_forward_cuda(const TransformSpec&, const Preprocess&, uint64_t, StepIndex, const Tensor&,
                            const Tensor&) {
  no_cuda("transform_forward");
}
void transform_backward_cuda(const TransformSpec&, const Preprocess&, uint64_t, StepIndex, const Tensor&,
                             const Tensor&) {
  no_cuda("transform_backward");
}
void regularizer_forward_backward_cuda(RegKind, float, const Tensor&, const Tensor&, float, const Tensor&, float) {
  no_cuda("regularizer");
}

}  // namespace cuviz
