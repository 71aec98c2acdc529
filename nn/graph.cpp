// Graph helpers: layer-kind names (from the op table, nn/layer_ops.h) and the producer look-up
// that respects in-place layers (the last layer writing a blob is the one whose value the blob
// name denotes).
#include "nn/graph.h"

#include "nn/layer_ops.h"

namespace cuviz {

const char* layer_kind_name(LayerKind k) { return layer_op(k).name; }

const LayerDesc* Graph::producer(const std::string& blob) const {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it)
    if (it->output == blob) return &*it;
  return nullptr;
}

}  // namespace cuviz
