// Shared by backward_rule_test.cpp and backward_rule_cuda_test.cpp: the three-unit net of the
// hand-worked ReLU answers, two test rules, and a bitwise comparison.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/add.h"
#include "nn/backward_rule.h"
#include "reference_net.h"

namespace cuviz::test {

// x (3 features) -> fc1 -> in-place ReLU -> fc2 (1 output), no biases:
//   W1 = [[1, 1, 0], [0, 1, -1], [1, 0, 1]],  W2 = [[2, 1, -1]].
// With the seed d(out) = 1, d(ReLU output) = W2^T = [2, 1, -1] and dx = W1^T d(fc1 output).
inline Graph three_unit_net() {
  auto linear = [](const char* name, const char* in, const char* out, Shape s, std::vector<float> w) {
    LayerDesc l = simple_layer(LayerKind::linear, name, {in}, out);
    OwnedTensor t(s);
    std::copy(w.begin(), w.end(), t.data());
    l.weights.push_back(std::move(t));
    return l;
  };
  Graph g;
  g.name = "three_units";
  g.input = "x";
  g.input_shape = Shape{1, 3, 1, 1};
  g.layers.push_back(linear("fc1", "x", "h", Shape{3, 3, 1, 1}, {1, 1, 0, 0, 1, -1, 1, 0, 1}));
  g.layers.push_back(simple_layer(LayerKind::relu, "relu", {"h"}, "h"));
  g.layers.push_back(linear("fc2", "h", "out", Shape{1, 3, 1, 1}, {2, 1, -1}));
  return g;
}

// The conv's own data gradient, then doubled (dx + dx is exact in float): a rule that is linear in
// dy and needs nothing from the forward.
class DoubleConvRule final : public BackwardRule {
 public:
  explicit DoubleConvRule(std::vector<std::string> layers)
      : BackwardRule("double_conv", RuleTarget::named(std::move(layers))) {}
  RuleNeeds needs(const LayerDesc&) const override { return {}; }
  void backward(const BackwardArgs& a) const override {
    Conv2dParams c = a.layer.conv;
    c.fuse_relu = false;
    conv2d_backward_data(c, a.dy, a.layer.weights[0], a.dx);
    add_forward(a.dx, a.dx, a.dx);
  }
};

// Not a gradient: d(input) := the input itself. Only right if the conv's input survived the
// forward, which a compact plan guarantees only because needs() says so.
class InputEchoRule final : public BackwardRule {
 public:
  explicit InputEchoRule(std::string layer) : BackwardRule("input_echo", RuleTarget::named({std::move(layer)})) {}
  RuleNeeds needs(const LayerDesc&) const override { return RuleNeeds{.input = true}; }
  void backward(const BackwardArgs& a) const override {
    CUVIZ_CHECK(a.x.defined(), "input_echo: the plan did not keep the input");
    copy(a.x, a.dx);
  }
};

// Same shape and the same bits (host tensors; images may be strided).
inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int i = 0; i < a.n(); ++i)
    if (std::memcmp(a.image(i), b.image(i), size_t(a.shape().image_size()) * sizeof(float)) != 0) return false;
  return true;
}

// ||got - want|| / ||want|| over every element (dense host tensors of one shape), as
// googlenet_cuda_test.cpp normalises; infinity when got holds a NaN or Inf, or want is zero.
template <class T>
double normalised_error(const Tensor& got, const BasicTensor<T>& want) {
  CUVIZ_CHECK(got.shape() == want.shape() && got.contiguous() && want.contiguous(), "normalised_error: shapes ",
              got.shape().str(), " and ", want.shape().str());
  double diff = 0, norm = 0;
  for (int64_t k = 0; k < want.numel(); ++k) {
    const double g = got.data()[k], w = double(want.data()[k]);
    if (!std::isfinite(g)) return INFINITY;
    diff += (g - w) * (g - w);
    norm += w * w;
  }
  return norm > 0 ? std::sqrt(diff / norm) : INFINITY;
}

}  // namespace cuviz::test
