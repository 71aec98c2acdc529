// Builds an nn/graph.h Graph layer by layer while tracking the shape of every blob, so that each
// loader checks its weights against the architecture as it reads them: conv weights must see
// in_channels / groups input channels, a linear layer's K must equal the flattened input size,
// concat inputs must agree on n, h, w. Every failure names the model file, the layer and shapes.
#pragma once

#include <map>
#include <string>

#include "nn/graph.h"

namespace cuviz {

class GraphBuilder {
 public:
  // `context` prefixes every error message, e.g. "caffe: weights/x/deploy.prototxt".
  explicit GraphBuilder(std::string context) : context_(std::move(context)) {}

  // Declares the image input blob and its shape (rank 4).
  void set_input(const std::string& blob, Shape shape);
  // Whether some input or earlier layer produced `blob`.
  bool has_blob(const std::string& blob) const { return shapes_.count(blob) != 0; }
  // The current shape of `blob`; throws naming `reader` (the layer that wants it) when absent.
  Shape blob_shape(const std::string& blob, const std::string& reader) const;
  // 2 for blobs that are flat vectors per image (after flatten / linear), 4 otherwise: the rank
  // an ONNX file sees, needed to resolve negative axes.
  int blob_rank(const std::string& blob) const;

  // Checks `layer` against the shapes of its inputs, records the shape of its output and
  // appends it. Throws naming the layer and the shapes on any mismatch.
  void add(LayerDesc layer);
  // The last layer added that writes `blob`, or nullptr.
  LayerDesc* producer(const std::string& blob);
  // Renames the output of the last layer writing `from` to `to` (a folded layer's output name).
  void rename_output(const std::string& from, const std::string& to);

  Graph& graph() { return graph_; }
  const std::string& context() const { return context_; }

 private:
  Shape output_shape(const LayerDesc& l, const std::vector<Shape>& in) const;

  std::string context_;
  Graph graph_;
  std::map<std::string, Shape> shapes_;
  std::map<std::string, int> ranks_;
};

// Number of weight values in the graph (all layers, biases included).
int64_t graph_parameter_count(const Graph& g);

// A CPU tensor of `shape` holding a copy of `count` = shape.numel() floats.
OwnedTensor make_weight(Shape shape, const float* data);

}  // namespace cuviz
