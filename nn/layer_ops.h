// The op table: everything nn/ knows about one layer kind lives in ONE entry (ggml / llm.c style:
// a struct of plain values and function pointers, one per LayerKind, in nn/layer_ops.cpp).
// Network (constructor checks, shapes, forward, the per-kind part of backward, describe),
// GraphBuilder (loader shape checks), `cuviz info` (via describe) and the test oracle
// (the plain network, nn/plain_net.h) all read the table, so a new op is one entry here plus its kernel
// files (docs/architecture.md, "How to add an op").
//
// An entry's forward and backward are called once per layer per step through a function
// pointer; they only dispatch to the kernels (no allocation, no std::function).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "nn/graph.h"

namespace cuviz {

// What a layer's backward to its input reads from the forward. A compact backward plan
// (PlanOptions::stash) keeps exactly this and lets everything else share memory by liveness.
enum class Keep {
  nothing,           // the data gradient needs the weights at most (conv, linear, affine, add, concat, views)
  output,            // y (softmax)
  input_and_output,  // x and y (LRN)
  relu_mask,         // where y > 0, one bit per element (kernels/relu.h)
  pool_winners,      // max pooling: each window's winner (kernels/pool2d.h); average pooling keeps nothing
};

// How a layer's output relates to its input's memory (nn/network.cpp, "Aliases").
enum class Memory {
  own,            // a tensor of its own
  may_overwrite,  // ReLU: written over its input when nothing else needs the input (and fused into a conv)
  view,           // the input itself (dropout at inference): no op runs
  reshape,        // the input's memory under another shape (flatten): no op runs
};

// A non-owning reference to a callable taking the tensor a gradient is written into: two words,
// no allocation (std::function could allocate on every layer of every step).
class TensorFn {
 public:
  template <class F>
  TensorFn(const F& f) : fn_([](const void* c, const Tensor& t) { (*static_cast<const F*>(c))(t); }), ctx_(&f) {}
  void operator()(const Tensor& t) const { fn_(ctx_, t); }

 private:
  void (*fn_)(const void*, const Tensor&);
  const void* ctx_;
};

// Where a layer's backward puts d(input slot). Network::run_backward implements it with its
// accumulation rules: into a clean gradient directly, into a dirty one through the scratch and an add.
class InputGrads {
 public:
  // Calls write(d): write must WRITE (not add) d(input slot) into d.
  virtual void write(int slot, TensorFn write) = 0;
  // d(input slot) is `g` as it stands (add, concat): copied or added without a scratch pass.
  virtual void pass(int slot, const Tensor& g) = 0;

 protected:
  ~InputGrads() = default;
};

// One layer call in a plan: its tensors and what the plan decided for it (nn/network.h, Plan::Step).
struct LayerCall {
  const LayerDesc& layer;              // weights on the network's device
  const std::vector<Tensor>& act;      // the plan's activations, by value id
  const std::vector<int>& in;          // value ids of the layer's inputs
  Tensor y;                            // output activation
  Tensor dy;                           // its gradient (backward only)
  const std::vector<OwnedTensor>& aux; // LayerOp::make_aux's tensors (empty for most kinds)
  const MaskTensor& mask;              // compact ReLU: the stash of y > 0 (undefined otherwise)
  const WinnerTensor& winners;         // compact max pool: each window's winner (undefined otherwise)
  const std::vector<int>& concat_offset;  // concat: first channel of each input in the output
  const std::vector<char>& placed;     // concat: input already lives in its slice (no copy)
  bool fuse_relu = false;              // conv: apply the next ReLU in the same pass
  bool fused_into_conv = false;        // relu: computed by the preceding conv

  const Tensor& x(size_t i = 0) const { return act[in[i]]; }
};

// Double (and float) reference interpreter arguments: pointers to the layer's inputs and weights.
template <class T>
using RefTensors = std::span<const BasicTensor<T>* const>;
template <class T>
using ReferenceForward = void (*)(const LayerDesc&, RefTensors<T> in, RefTensors<T> w, const BasicTensor<T>& y);
// Writes d(input i) into dx[i] for every input and, where the kind has backward_weight and dw is
// not empty, d(weight j) into dw[j].
using ReferenceBackward = void (*)(const LayerDesc&, RefTensors<double> in, RefTensors<double> w, const TensorD& y,
                                   const TensorD& dy, RefTensors<double> dx, RefTensors<double> dw);

struct LayerOp {
  LayerKind kind;
  const char* name;                   // layer_kind_name, the `type` column of `cuviz info`
  size_t in_min = 1, in_max = 1;      // number of inputs
  size_t w_min = 0, w_max = 0;        // number of weight tensors (order: see LayerKind)
  // Output shape from the input shapes (counts already checked); the message names the op, the
  // caller adds the layer.
  Shape (*output_shape)(const LayerDesc&, std::span<const Shape> in) = nullptr;
  // y from the inputs; false when the layer launched no op (a view, a ReLU fused into its conv,
  // a concat whose inputs all live in their slices).
  bool (*forward)(const LayerCall&) = nullptr;
  // d(inputs) from dy, through InputGrads.
  void (*backward_data)(const LayerCall&, InputGrads&) = nullptr;
  // d(weights) from x and dy (nullptr: the kind's weights are not trained); dw in weight order.
  void (*backward_weight)(const LayerCall&, std::span<const Tensor> dw) = nullptr;
  Keep keep = Keep::nothing;
  Memory memory = Memory::own;
  // Constant tensors the layer's kernels need besides its weights, made once on `device` when a
  // Network is built (nullptr: none).
  std::vector<OwnedTensor> (*make_aux)(const LayerDesc&, Device device) = nullptr;
  // Multiply-accumulates per image for `cuviz info` (nullptr: none worth counting). Parameters
  // are the weights' element count for every kind (Network::describe).
  int64_t (*macs)(const LayerDesc&, Shape out) = nullptr;
  ReferenceForward<float> reference_forward_f = nullptr;
  ReferenceForward<double> reference_forward_d = nullptr;
  ReferenceBackward reference_backward = nullptr;
};

// The entry of `k` (throws for a value outside the enum).
const LayerOp& layer_op(LayerKind k);

// Throws "<who> has N inputs, expected ..." or the same for weight tensors.
void check_layer_counts(const LayerDesc& l, const std::string& who);
// The layer's output shape for these input shapes (what plan() and GraphBuilder compute).
Shape output_shape(const LayerDesc& l, std::span<const Shape> in);

template <class T>
void reference_forward(const LayerDesc& l, RefTensors<T> in, RefTensors<T> w, const BasicTensor<T>& y) {
  if constexpr (std::is_same_v<T, float>)
    layer_op(l.kind).reference_forward_f(l, in, w, y);
  else
    layer_op(l.kind).reference_forward_d(l, in, w, y);
}

}  // namespace cuviz
