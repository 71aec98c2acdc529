// Graph helpers: layer-kind names and the producer look-up that respects in-place layers
// (the last layer writing a blob is the one whose value the blob name denotes).
#include "nn/graph.h"

namespace cuviz {

const char* layer_kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::conv: return "conv";
    case LayerKind::relu: return "relu";
    case LayerKind::pool: return "pool";
    case LayerKind::lrn: return "lrn";
    case LayerKind::concat: return "concat";
    case LayerKind::linear: return "linear";
    case LayerKind::softmax: return "softmax";
    case LayerKind::dropout: return "dropout";
    case LayerKind::flatten: return "flatten";
    case LayerKind::affine: return "affine";
    case LayerKind::add: return "add";
  }
  return "unknown";
}

const LayerDesc* Graph::producer(const std::string& blob) const {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it)
    if (it->output == blob) return &*it;
  return nullptr;
}

}  // namespace cuviz
