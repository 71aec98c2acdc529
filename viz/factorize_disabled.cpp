// Without CUDA no factorization runs on a device: these say why if asked (--device cuda falls back
// to the CPU before reaching them).
#include "core/error.h"
#include "viz/factorize.h"

namespace cuviz {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  throw Error(cat(op, ": this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON)"));
}
}  // namespace

NmfResult nmf_cuda(const Matrix&, const NmfOptions&, Matrix, Matrix) { no_cuda("nmf"); }
PcaResult pca_cuda(const Matrix&, const PcaOptions&) { no_cuda("pca"); }
KmeansResult kmeans_cuda(const Matrix&, const KmeansOptions&, Matrix) { no_cuda("kmeans"); }

}  // namespace cuviz
