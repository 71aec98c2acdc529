// GraphBuilder: shape propagation over a Graph under construction. Output shapes come from the
// ops' own shape functions (conv2d_output_shape, pool2d_output_shape), so a loaded graph agrees
// with what nn/Network will compute.
#include "loaders/graph_builder.h"

#include <cstring>

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

Shape GraphBuilder::output_shape(const LayerDesc& l, const std::vector<Shape>& in) const {
  const std::string what = cat(context_, ": layer '", l.name, "' (", layer_kind_name(l.kind), ")");
  auto want_inputs = [&](size_t n) {
    CUVIZ_CHECK(in.size() == n, what, " has ", in.size(), " inputs, expected ", n);
  };
  auto want_weights = [&](size_t lo, size_t hi) {
    CUVIZ_CHECK(l.weights.size() >= lo && l.weights.size() <= hi, what, " has ", l.weights.size(),
                " weight tensors, expected ", lo, lo == hi ? "" : cat(" to ", hi));
  };
  switch (l.kind) {
    case LayerKind::conv: {
      want_inputs(1);
      want_weights(1, 2);
      const Shape w = l.weights[0].shape();
      CUVIZ_CHECK(l.conv.groups >= 1 && w.n % l.conv.groups == 0, what, ": ", w.n,
                  " output channels are not divisible by groups = ", l.conv.groups);
      CUVIZ_CHECK(int64_t(w.c) * l.conv.groups == in[0].c, what, ": weights ", w.str(), " with groups = ",
                  l.conv.groups, " expect ", int64_t(w.c) * l.conv.groups, " input channels, but the input is ",
                  in[0].str());
      if (l.weights.size() == 2)
        CUVIZ_CHECK(l.weights[1].shape() == (Shape{1, w.n, 1, 1}), what, ": bias ", l.weights[1].shape().str(),
                    " does not match weights ", w.str(), " (expected [1, ", w.n, ", 1, 1])");
      try {
        return conv2d_output_shape(l.conv, in[0], w);
      } catch (const Error& e) {
        throw Error(cat(what, ": ", e.what()));
      }
    }
    case LayerKind::pool:
      want_inputs(1);
      want_weights(0, 0);
      try {
        return pool2d_output_shape(l.pool, in[0]);
      } catch (const Error& e) {
        throw Error(cat(what, ": ", e.what()));
      }
    case LayerKind::relu:
    case LayerKind::lrn:
    case LayerKind::softmax:
    case LayerKind::dropout:
      want_inputs(1);
      want_weights(0, 0);
      return in[0];
    case LayerKind::concat: {
      CUVIZ_CHECK(in.size() >= 2, what, " has ", in.size(), " inputs, expected at least 2");
      Shape out = in[0];
      for (size_t i = 1; i < in.size(); ++i) {
        CUVIZ_CHECK(in[i].n == out.n && in[i].h == out.h && in[i].w == out.w, what, ": input ", i, " ",
                    in[i].str(), " does not match input 0 ", in[0].str(), " outside the channel axis");
        out.c += in[i].c;
      }
      return out;
    }
    case LayerKind::linear: {
      want_inputs(1);
      want_weights(1, 2);
      const Shape w = l.weights[0].shape();
      CUVIZ_CHECK(w.h == 1 && w.w == 1 && w.c == in[0].image_size(), what, ": weights ", w.str(),
                  " expect ", w.c, " input features, but the input ", in[0].str(), " has ", in[0].image_size());
      if (l.weights.size() == 2)
        CUVIZ_CHECK(l.weights[1].shape() == (Shape{1, w.n, 1, 1}), what, ": bias ", l.weights[1].shape().str(),
                    " does not match weights ", w.str(), " (expected [1, ", w.n, ", 1, 1])");
      return {in[0].n, w.n, 1, 1};
    }
    case LayerKind::flatten:
      want_inputs(1);
      want_weights(0, 0);
      return {in[0].n, int(in[0].image_size()), 1, 1};
    case LayerKind::affine:
      want_inputs(1);
      want_weights(2, 2);
      for (const auto& t : l.weights)
        CUVIZ_CHECK(t.shape() == (Shape{1, in[0].c, 1, 1}), what, ": per-channel weights ", t.shape().str(),
                    " do not match the input ", in[0].str());
      return in[0];
    case LayerKind::add:
      want_inputs(2);
      want_weights(0, 0);
      CUVIZ_CHECK(in[0] == in[1], what, ": inputs ", in[0].str(), " and ", in[1].str(), " differ in shape");
      return in[0];
  }
  throw Error(cat(what, ": unknown layer kind"));
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
  OwnedTensor t(shape);
  std::memcpy(t.data(), data, size_t(shape.numel()) * sizeof(float));
  return t;
}

}  // namespace cuviz
