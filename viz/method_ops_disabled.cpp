// Without CUDA no tensor can live on a device, so these are unreachable in practice; they exist
// so the dispatching method ops link, and they say why if reached.
#include "viz/method_ops.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  throw Error(cat(op, ": this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)"));
}
}  // namespace

void input_to_image_cuda(const Preprocess&, const Tensor&, const Tensor&) { no_cuda("input_to_image"); }
void input_to_image_backward_add_cuda(const Preprocess&, const Tensor&, const Tensor&) {
  no_cuda("input_to_image_backward");
}
void roll_cuda(int, uint64_t, StepIndex, int, const Tensor&, const Tensor&) { no_cuda("roll"); }
void crop_cuda(bool, uint64_t, StepIndex, bool, const Tensor&, const Tensor&) { no_cuda("crop"); }
void blur_scheduled_cuda(float, float, int, int, StepIndex, const Tensor&, const Tensor&) { no_cuda("blur"); }
void blur_scheduled_window_cuda(float, float, int, int, StepIndex, int, uint64_t, const Tensor&, const Tensor&) {
  no_cuda("blur_window");
}
void blur_scheduled_adjoint_cuda(float, float, int, int, StepIndex, const Tensor&, const Tensor&) {
  no_cuda("blur_adjoint");
}
void resize_axis_cuda(bool, bool, const Tensor&, const Tensor&) { no_cuda("resize"); }
void clip_channels_cuda(const float*, const float*, const Tensor&) { no_cuda("clip"); }
void decay_and_schedule_cuda(float, float, int, StepIndex, const Tensor&, const Tensor&) {
  no_cuda("decay_and_schedule");
}

}  // namespace cuviz
