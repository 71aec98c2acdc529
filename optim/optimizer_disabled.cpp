// Without CUDA no buffer can live on a device, so these are unreachable in practice; they exist
// so the optimizers link, and they say why if reached.
#include "optim/optimizer.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  throw Error(cat(op, ": this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)"));
}
}  // namespace

void adam_update_cuda(float*, const float*, float*, float*, int64_t, const AdamStep&) { no_cuda("adam"); }
void adam_update_counted_cuda(float*, const float*, float*, float*, int64_t, const AdamConfig&, const int64_t*) {
  no_cuda("adam");
}
void sgd_update_cuda(float*, const float*, float*, int64_t, bool, const SgdConfig&) { no_cuda("sgd"); }
void normalize_gradient_cuda(GradNorm, int, float*, int64_t) { no_cuda("normalize_gradient"); }

}  // namespace cuviz
