// Test helpers for nn/Network: builders for small graphs with seeded weights. The oracle the
// tests run them on is the plain network, PlainNet in nn/plain_net.h (the op table's plain
// references, layer by layer, no memory planning).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/pool2d.h"
#include "nn/graph.h"
#include "nn/layer_ops.h"
#include "nn/plain_net.h"
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

}  // namespace cuviz::test
