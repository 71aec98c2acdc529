// Without CUDA no tensor can live on a device, so these are unreachable in practice; they exist
// so diversity links, and they say why if reached.
#include "core/error.h"
#include "viz/term_diversity.h"

namespace cuviz {

void diversity_values_cuda(const Tensor&, float*, float*, const int*, int, float*) {
  throw Error("diversity values: this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)");
}
void diversity_seeds_cuda(const Tensor&, const float*, const float*, const float*, float*, const Tensor&) {
  throw Error("diversity seeds: this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)");
}

}  // namespace cuviz
