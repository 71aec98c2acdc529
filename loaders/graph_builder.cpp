// GraphBuilder: shape propagation over a Graph under construction. Output shapes come from the
// op table (nn/layer_ops.h), the same rules nn/Network plans with, so a loaded graph agrees with
// what Network will compute.
#include "loaders/graph_builder.h"

#include <cmath>
#include <cstring>

#include "nn/layer_ops.h"

namespace cuviz {

void GraphBuilder::set_input(const std::string& blob, Shape shape) {
  CUVIZ_CHECK(shape.numel() > 0, context_, ": input '", blob, "' has an empty shape ", shape.str());
  graph_.input = blob;
  graph_.input_shape = shape;
  shapes_[blob] = shape;
  ranks_[blob] = 4;
}

Shape GraphBuilder::blob_shape(const std::string& blob, const std::string& reader) const {
  auto it = shapes_.find(blob);
  CUVIZ_CHECK(it != shapes_.end(), context_, ": layer '", reader, "' reads blob '", blob,
              "', which neither the input nor an earlier layer produces");
  return it->second;
}

int GraphBuilder::blob_rank(const std::string& blob) const {
  auto it = ranks_.find(blob);
  return it == ranks_.end() ? 4 : it->second;
}

LayerDesc* GraphBuilder::producer(const std::string& blob) {
  for (auto it = graph_.layers.rbegin(); it != graph_.layers.rend(); ++it)
    if (it->output == blob) return &*it;
  return nullptr;
}

void GraphBuilder::rename_output(const std::string& from, const std::string& to) {
  LayerDesc* l = producer(from);
  CUVIZ_CHECK(l != nullptr, context_, ": no layer writes blob '", from, "'");
  l->output = to;
  shapes_[to] = shapes_.at(from);
  ranks_[to] = blob_rank(from);
  shapes_.erase(from);
  ranks_.erase(from);
}

// The op table's counts and shape rule (nn/layer_ops.h), every message prefixed with the file and layer.
Shape GraphBuilder::output_shape(const LayerDesc& l, const std::vector<Shape>& in) const {
  const std::string what = cat(context_, ": layer '", l.name, "' (", layer_kind_name(l.kind), ")");
  check_layer_counts(l, what);
  try {
    return cuviz::output_shape(l, in);
  } catch (const Error& e) {
    throw Error(cat(what, ": ", e.what()));
  }
}

void GraphBuilder::add(LayerDesc layer) {
  for (const auto& l : graph_.layers)
    CUVIZ_CHECK(l.name != layer.name, context_, ": two layers are named '", layer.name, "'");
  CUVIZ_CHECK(!layer.output.empty(), context_, ": layer '", layer.name, "' has no output blob");
  std::vector<Shape> in;
  int rank = 4;
  for (const auto& b : layer.inputs) {
    in.push_back(blob_shape(b, layer.name));
    rank = blob_rank(b);
  }
  // Every loader's weights pass here: a NaN or Inf (a corrupt or bit-flipped file) is refused
  // by layer name rather than turning every output NaN.
  for (size_t i = 0; i < layer.weights.size(); ++i) {
    const OwnedTensor& w = layer.weights[i];
    for (int64_t k = 0; k < w.numel(); ++k)
      CUVIZ_CHECK(std::isfinite(w.data()[k]), context_, ": layer '", layer.name, "' weight ", i, " element ", k,
                  " is ", w.data()[k], " (weights must be finite numbers)");
  }
  const Shape out = output_shape(layer, in);
  if (layer.kind == LayerKind::flatten || layer.kind == LayerKind::linear) rank = 2;
  shapes_[layer.output] = out;
  ranks_[layer.output] = rank;
  graph_.layers.push_back(std::move(layer));
}

int64_t graph_parameter_count(const Graph& g) {
  int64_t n = 0;
  for (const auto& l : g.layers)
    for (const auto& w : l.weights) n += w.numel();
  return n;
}

OwnedTensor make_weight(Shape shape, const float* data) {
  CUVIZ_CHECK(data != nullptr || shape.numel() == 0, "make_weight: no data for ", shape.str());
  OwnedTensor t(shape);
  if (shape.numel() > 0) std::memcpy(t.data(), data, size_t(shape.numel()) * sizeof(float));
  return t;
}

}  // namespace cuviz
