// Without CUDA no tensor can live on a device, so these are unreachable in practice; they exist
// so the item batches link (one stand-in per item maths of CUVIZ_ITEM_MATHS), and they say why
// if reached.
#include "viz/objective_item_list.h"

namespace cuviz {

template <class Maths>
void item_values_cuda(const LeafTask*, int, const float*, const Tensor&, float*) {
  throw Error("objective values: this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)");
}
template <class Maths>
void item_seeds_cuda(const LeafTask*, int, const float*, const Tensor&, const float*, const Tensor&) {
  throw Error("objective seeds: this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)");
}

#define CUVIZ_INSTANTIATE(M)                                                                              \
  template void item_values_cuda<M>(const LeafTask*, int, const float*, const Tensor&, float*);           \
  template void item_seeds_cuda<M>(const LeafTask*, int, const float*, const Tensor&, const float*, const Tensor&);
CUVIZ_ITEM_MATHS(CUVIZ_INSTANTIATE)
#undef CUVIZ_INSTANTIATE

}  // namespace cuviz
