// The plain network: the simplest complete forward and backward pass of a Graph in cuviz.
//
// nn/network.h runs a Graph fast: a memory plan that reuses buffers, in-place ops, concat
// outputs written as slices, fused kernels, CUDA graphs. PlainNet runs the same Graph with none
// of that, so a reader can see what a network *is* before seeing how it is made fast:
//
//   forward   every layer, in file order, calls the op table's plain reference forward
//             (nn/layer_ops.h) on fresh tensors; a blob name means its latest value (Caffe's
//             in-place convention), and every value ever computed is kept;
//   backward  reverse-mode differentiation by hand: walk the layers backwards, give each one
//             dL/d(output) and let its plain reference backward return dL/d(input i) for every
//             input; a value read by several layers sums their contributions (fan-out), which
//             is the chain rule's sum over paths (docs/backprop.md, section 4).
//
// In double precision it is the tests' oracle: forward values of whole networks, gradients
// against finite differences, and the gradients Network must reproduce. It is slow by design
// (no memory planning, one plain loop per op); use Network for real work.
#pragma once

#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/graph.h"
#include "nn/layer_ops.h"

namespace cuviz {

// Runs a Graph layer by layer with the plain reference ops in precision T (float or double).
template <class T>
class PlainNet {
 public:
  explicit PlainNet(const Graph& g) : g_(g) {
    for (const auto& l : g.layers) {
      std::vector<BasicOwnedTensor<T>> ws;
      for (const auto& w : l.weights) {
        BasicOwnedTensor<T> c(w.shape());
        for (int64_t k = 0; k < w.numel(); ++k) c.data()[k] = T(w.data()[k]);
        ws.push_back(std::move(c));
      }
      weights_.push_back(std::move(ws));
    }
  }

  // Weight i of layer li (perturbed by weight finite differences).
  const BasicTensor<T>& weight(int li, int i) const { return weights_[li][i]; }

  void run(const BasicTensor<T>& x) {
    values_.clear();
    inputs_.clear();
    grads_.clear();
    latest_.clear();
    by_layer_.clear();
    versions_.clear();
    values_.emplace_back(x.shape());
    copy_into(x, values_[0]);
    latest_[g_.input] = 0;
    for (size_t li = 0; li < g_.layers.size(); ++li) {
      const LayerDesc& l = g_.layers[li];
      std::vector<const BasicTensor<T>*> in;
      inputs_.emplace_back();
      for (const auto& b : l.inputs) {
        inputs_.back().push_back(latest_.at(b));
        in.push_back(&values_.at(latest_.at(b)));
      }
      std::vector<const BasicTensor<T>*> ws;
      std::vector<Shape> shapes;
      for (const auto& w : weights_[li]) ws.push_back(&w);
      for (auto* t : in) shapes.push_back(t->shape());
      BasicOwnedTensor<T> y(output_shape(l, shapes));
      reference_forward<T>(l, in, ws, y);  // the op table's plain reference (nn/layer_ops.h)
      values_.push_back(std::move(y));
      latest_[l.output] = int(values_.size()) - 1;
      versions_[l.output].push_back(int(values_.size()) - 1);
      by_layer_[l.name] = int(values_.size()) - 1;
    }
  }

  // The latest value of a blob (what a Caffe blob name shows); "<blob>:pre" is the value
  // before the blob's last in-place layer.
  const BasicTensor<T>& blob(const std::string& name) const {
    if (name.size() > 4 && name.ends_with(":pre")) {
      const auto& vs = versions_.at(name.substr(0, name.size() - 4));
      return values_.at(vs.at(vs.size() - 2));
    }
    return values_.at(latest_.at(name));
  }
  // The output of a layer.
  const BasicTensor<T>& layer(const std::string& name) const { return values_.at(by_layer_.at(name)); }

  // After run: the gradient of sum_i <seed_i, blob_i> with respect to every value computed after
  // the latest value of `down_to` (and to it), from the seeds on blobs (latest values). Layers at
  // or before down_to's producer are not visited: every reader of it comes later.
  // Double only: the table's reference backward is the double-precision oracle.
  void backward(const std::vector<std::pair<std::string, const BasicTensor<T>*>>& seeds, const std::string& down_to)
    requires std::is_same_v<T, double>
  {
    grads_.clear();
    for (const auto& [name, seed] : seeds) add_into(grad_of(latest_.at(name)), *seed);
    const int stop = latest_.at(down_to);  // value v is written by layer v - 1
    for (int li = int(g_.layers.size()) - 1; li >= stop; --li) {
      const auto it = grads_.find(li + 1);
      if (it == grads_.end()) continue;  // nothing flows into this layer's output
      const LayerDesc& l = g_.layers[li];
      const BasicTensor<T>& dy = it->second;
      const BasicTensor<T>& y = values_.at(li + 1);
      // The op table's plain reference backward (nn/layer_ops.h), d(input i) for every input;
      // readers of one value add up (fan-out), the concat's slices go back to their inputs.
      std::vector<const BasicTensor<T>*> in, ws, dxs;
      std::vector<BasicOwnedTensor<T>> dx;
      for (int v : inputs_[li]) {
        in.push_back(&values_.at(v));
        dx.emplace_back(values_.at(v).shape());
      }
      for (const auto& w : weights_[li]) ws.push_back(&w);
      for (const auto& d : dx) dxs.push_back(&d);
      layer_op(l.kind).reference_backward(l, in, ws, y, dy, dxs, {});
      for (size_t i = 0; i < dx.size(); ++i) add_into(grad_of(inputs_[li][i]), dx[i]);
    }
  }
  // The gradient left by backward at a blob's latest value ("<blob>:pre" as in blob()).
  const BasicTensor<T>& grad(const std::string& name) const {
    if (name.size() > 4 && name.ends_with(":pre")) {
      const auto& vs = versions_.at(name.substr(0, name.size() - 4));
      return grads_.at(vs.at(vs.size() - 2));
    }
    return grads_.at(latest_.at(name));
  }

 private:
  static void copy_into(const BasicTensor<T>& src, const BasicTensor<T>& dst) {
    for (int n = 0; n < src.n(); ++n)
      for (int c = 0; c < src.c(); ++c)
        for (int h = 0; h < src.h(); ++h)
          for (int w = 0; w < src.w(); ++w) dst.at(n, c, h, w) = src.at(n, c, h, w);
  }

  // The gradient of value v, zero on first use.
  BasicOwnedTensor<T>& grad_of(int v) {
    auto it = grads_.find(v);
    if (it == grads_.end()) {
      BasicOwnedTensor<T> z(values_.at(v).shape());
      for (int64_t k = 0; k < z.numel(); ++k) z.data()[k] = T(0);
      it = grads_.emplace(v, std::move(z)).first;
    }
    return it->second;
  }
  static void add_into(const BasicTensor<T>& acc, const BasicTensor<T>& d) {
    for (int n = 0; n < d.n(); ++n)
      for (int c = 0; c < d.c(); ++c)
        for (int h = 0; h < d.h(); ++h)
          for (int w = 0; w < d.w(); ++w) acc.at(n, c, h, w) += d.at(n, c, h, w);
  }

  const Graph& g_;
  std::vector<std::vector<BasicOwnedTensor<T>>> weights_;
  std::vector<std::vector<int>> inputs_;  // per layer: the values it read
  std::map<int, BasicOwnedTensor<T>> grads_;
  std::vector<BasicOwnedTensor<T>> values_;
  std::map<std::string, int> latest_, by_layer_;
  std::map<std::string, std::vector<int>> versions_;
};

}  // namespace cuviz
