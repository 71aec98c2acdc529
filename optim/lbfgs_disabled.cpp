// Without CUDA no buffer can live on a device, so these are unreachable in practice; they exist
// so L-BFGS links, and they say why if reached.
#include "optim/lbfgs.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cuda() { throw Error("lbfgs: this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)"); }
}  // namespace

double vec_reduce_cuda(int, const float*, const float*, int64_t, void*) { no_cuda(); }
void vec_lincomb_cuda(const float*, float, const float*, float*, int64_t) { no_cuda(); }
void vec_scale_cuda(float, const float*, float*, int64_t) { no_cuda(); }
void vec_sub_cuda(const float*, const float*, float*, int64_t) { no_cuda(); }

}  // namespace cuviz
