// Without CUDA no tensor can live on a device, so these are unreachable in practice; they exist
// so the objective evaluator links, and they say why if reached.
#include "viz/objective_eval.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  throw Error(cat(op, ": this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)"));
}
}  // namespace

void leaf_values_cuda(const LeafTask*, int, const float*, const Tensor&, float*) { no_cuda("objective values"); }
void leaf_seeds_cuda(const LeafTask*, int, const float*, const Tensor&, const float*, const Tensor&) {
  no_cuda("objective seeds");
}
void diversity_values_cuda(const Tensor&, float*, float*, const int*, int, float*) { no_cuda("diversity values"); }
void diversity_seeds_cuda(const Tensor&, const float*, const float*, const float*, float*, const Tensor&) {
  no_cuda("diversity seeds");
}

}  // namespace cuviz
