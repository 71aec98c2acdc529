// The loader-independent description of a network: what every model loader (Caffe, ONNX,
// safetensors + built-in architecture) produces and what nn/Network plans and runs.
// A graph is a list of layers in topological order over named blobs; each layer reads one or
// more blobs and writes exactly one. Weights are owned here (CPU); Network copies them to the
// device it runs on.
#pragma once

#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/conv2d.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "core/tensor.h"

namespace cuviz {

enum class LayerKind {
  conv,         // weights: w {O, I/groups, kh, kw}, optional b {1, O, 1, 1}
  relu,         //
  pool,         // max / average / global
  lrn,          //
  concat,       // along channels, >= 2 inputs
  linear,       // weights: w {O, K, 1, 1}, optional b {1, O, 1, 1}; input flattened
  softmax,      // over channels
  dropout,      // identity at inference
  flatten,      // {n, c, h, w} -> {n, c*h*w, 1, 1}
  affine,       // per-channel y = a_c x + b_c; weights: a {1,C,1,1}, b {1,C,1,1}
                // (an unfolded batch norm, torchvision's transform_input)
  add,          // element-wise sum of two inputs of one shape
  sigmoid,      // y = 1 / (1 + e^-x)
};

// Every kind, in enum order: nn/layer_ops.cpp has one table entry per kind (a static_assert checks
// the count) and tests/kernels/op_table_test.cpp fails for a kind that has no test case.
inline constexpr LayerKind kLayerKinds[] = {
    LayerKind::conv,    LayerKind::relu,    LayerKind::pool,    LayerKind::lrn,
    LayerKind::concat,  LayerKind::linear,  LayerKind::softmax, LayerKind::dropout,
    LayerKind::flatten, LayerKind::affine,  LayerKind::add,     LayerKind::sigmoid,
};

// "conv", "relu", ... (the op table's name, nn/layer_ops.h)
const char* layer_kind_name(LayerKind k);

struct LayerDesc {
  std::string name;                 // the model file's layer name (unique)
  LayerKind kind = LayerKind::relu;
  std::vector<std::string> inputs;  // blob names
  std::string output;               // blob name; may equal inputs[0] for in-place layers (Caffe ReLU)
  Conv2dParams conv;
  Pool2dParams pool;
  LrnParams lrn;
  std::vector<OwnedTensor> weights;  // kind-specific order, see LayerKind
};

// How the model expects its input image (for classify/render preprocessing).
struct ModelMeta {
  int input_size = 224;                 // square H = W
  bool bgr = true;                      // channel order of the network input
  float value_scale = 255.f;            // image in [0,1] is multiplied by this first
  float mean[3] = {104.f, 117.f, 123.f};  // subtracted per network channel, after scaling
  float std[3] = {1.f, 1.f, 1.f};         // then divided per network channel
  std::string labels;                   // path of a labels file ("" = none)
};

struct Graph {
  std::string name;        // e.g. "bvlc_googlenet"
  std::string input;       // blob name of the image input ("data")
  Shape input_shape;       // as declared by the file (n may be 1)
  std::vector<LayerDesc> layers;
  ModelMeta meta;

  // The layer producing `blob` last (in-place layers rewrite a blob), or nullptr.
  const LayerDesc* producer(const std::string& blob) const;
};

}  // namespace cuviz
