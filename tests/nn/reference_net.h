// Test helpers for nn/Network: builders for small graphs with seeded weights, and ReferenceNet,
// an independent interpreter of a Graph that runs the op table's plain references (float or double)
// with Caffe semantics (a blob name is its latest value) and none of Network's memory planning
// (no aliasing, no concat slices), so it is the oracle for forward values and, in double, for
// finite-difference gradients. `backward` applies the op table's reference backwards in
// reverse layer order (d(value) = seed + sum over its readers), the oracle for gradients of
// whole networks too large for finite differences.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/pool2d.h"
#include "nn/graph.h"
#include "nn/layer_ops.h"
#include "test_util.h"

namespace cuviz::test {

// The layer named `name` (not the blob's producer: an in-place ReLU produces a conv's blob last).
inline const LayerDesc& find_layer(const Graph& g, const std::string& name) {
  for (const auto& l : g.layers)
    if (l.name == name) return l;
  throw Error(cat("test graph has no layer '", name, "'"));
}

// Uniform weights in +-sqrt(3 / fan_in): unit-variance inputs give O(1) outputs.
inline OwnedTensor weights(Shape s, uint64_t seed, int64_t fan_in) {
  OwnedTensor t(s);
  const double a = std::sqrt(3.0 / double(fan_in));
  fill_uniform(t, seed, -a, a);
  return t;
}

inline LayerDesc conv_layer(const std::string& name, const std::string& in, const std::string& out, int cin, int cout,
                            int k, int pad, uint64_t seed, int stride = 1) {
  LayerDesc l;
  l.name = name;
  l.kind = LayerKind::conv;
  l.inputs = {in};
  l.output = out;
  l.conv = Conv2dParams::make(stride, pad);
  l.weights.push_back(weights(Shape{cout, cin, k, k}, seed, int64_t(cin) * k * k));
  l.weights.push_back(weights(Shape{1, cout, 1, 1}, seed + 1000, 4));
  return l;
}

inline LayerDesc simple_layer(LayerKind kind, const std::string& name, std::vector<std::string> in,
                              const std::string& out) {
  LayerDesc l;
  l.name = name;
  l.kind = kind;
  l.inputs = std::move(in);
  l.output = out;
  return l;
}

inline LayerDesc pool_layer(const std::string& name, const std::string& in, const std::string& out, Pool2dParams p) {
  LayerDesc l = simple_layer(LayerKind::pool, name, {in}, out);
  l.pool = p;
  return l;
}

inline LayerDesc linear_layer(const std::string& name, const std::string& in, const std::string& out, int k, int o,
                              uint64_t seed) {
  LayerDesc l = simple_layer(LayerKind::linear, name, {in}, out);
  l.weights.push_back(weights(Shape{o, k, 1, 1}, seed, k));
  l.weights.push_back(weights(Shape{1, o, 1, 1}, seed + 1000, 4));
  return l;
}

inline LayerDesc affine_layer(const std::string& name, const std::string& in, const std::string& out, int c,
                              uint64_t seed) {
  LayerDesc l = simple_layer(LayerKind::affine, name, {in}, out);
  OwnedTensor a(Shape{1, c, 1, 1}), b(Shape{1, c, 1, 1});
  fill_uniform(a, seed, 0.5, 1.5);
  fill_uniform(b, seed + 1, -0.5, 0.5);
  l.weights.push_back(std::move(a));
  l.weights.push_back(std::move(b));
  return l;
}

// An inception block in Caffe style (in-place ReLUs, concat named <p>/output) reading `in`
// (cin channels): 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1.
inline void add_inception(Graph& g, const std::string& p, const std::string& in, int cin, uint64_t seed) {
  auto conv_relu = [&](const std::string& n, const std::string& from, int ci, int co, int k) {
    g.layers.push_back(conv_layer(p + "/" + n, from, p + "/" + n, ci, co, k, k / 2, seed++));
    g.layers.push_back(simple_layer(LayerKind::relu, p + "/relu_" + n, {p + "/" + n}, p + "/" + n));
  };
  conv_relu("1x1", in, cin, 4, 1);
  conv_relu("3x3_reduce", in, cin, 3, 1);
  conv_relu("3x3", p + "/3x3_reduce", 3, 4, 3);
  conv_relu("5x5_reduce", in, cin, 2, 1);
  conv_relu("5x5", p + "/5x5_reduce", 2, 3, 5);
  g.layers.push_back(pool_layer(p + "/pool", in, p + "/pool", Pool2dParams::make(PoolMode::max, 3, 1, 1)));
  conv_relu("pool_proj", p + "/pool", cin, 3, 1);
  g.layers.push_back(simple_layer(LayerKind::concat, p + "/output",
                                  {p + "/1x1", p + "/3x3", p + "/5x5", p + "/pool_proj"}, p + "/output"));
}

// A small GoogLeNet-like network on {n, 3, 10, 10}: conv + in-place ReLU, max pool (ceil mode,
// partial windows), LRN, an inception block (14 channels, `norm1` read by four branches),
// affine, residual add (inc/output read twice), in-place ReLU, global average pool, in-place
// dropout, flatten, linear to 5 classes, softmax.
inline Graph small_net() {
  Graph g;
  g.name = "small_net";
  g.input = "data";
  g.input_shape = Shape{1, 3, 10, 10};
  g.layers.push_back(conv_layer("conv1", "data", "conv1", 3, 6, 3, 1, 1));
  g.layers.push_back(simple_layer(LayerKind::relu, "relu1", {"conv1"}, "conv1"));
  g.layers.push_back(pool_layer("pool1", "conv1", "pool1", Pool2dParams::make(PoolMode::max, 3, 2, 0, true)));
  LayerDesc lrn = simple_layer(LayerKind::lrn, "norm1", {"pool1"}, "norm1");
  lrn.lrn = LrnParams{3, 0.5f, 0.75f, 1.f};  // a large alpha so the normalization matters
  g.layers.push_back(std::move(lrn));
  add_inception(g, "inc", "norm1", 6, 10);
  g.layers.push_back(affine_layer("inc/bn", "inc/output", "inc/bn", 14, 30));
  g.layers.push_back(simple_layer(LayerKind::add, "res", {"inc/bn", "inc/output"}, "res"));
  g.layers.push_back(simple_layer(LayerKind::relu, "res/relu", {"res"}, "res"));
  Pool2dParams gap = Pool2dParams::make(PoolMode::average, 1, 1);
  gap.global = true;
  g.layers.push_back(pool_layer("gap", "res", "gap", gap));
  g.layers.push_back(simple_layer(LayerKind::dropout, "drop", {"gap"}, "gap"));
  g.layers.push_back(simple_layer(LayerKind::flatten, "flat", {"gap"}, "flat"));
  g.layers.push_back(linear_layer("fc", "flat", "fc", 14, 5, 40));
  g.layers.push_back(simple_layer(LayerKind::softmax, "prob", {"fc"}, "prob"));
  return g;
}

// Runs a Graph layer by layer with the plain reference ops in precision T.
template <class T>
class ReferenceNet {
 public:
  explicit ReferenceNet(const Graph& g) : g_(g) {
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

}  // namespace cuviz::test
