// A class model (Simonyan, Vedaldi, Zisserman 2013) of a network built in code, checked against
// its closed form. A small program against the cuviz libraries (no command line, no model file);
// CMake builds it and CTest runs it (label `examples`), so it cannot rot.
//
// The network: an 8x8 RGB image x (network input = image - 0.5), a linear layer to 6 hidden units
// and a linear layer to 3 class scores, then a softmax:
//
//   h = W1 x + b1,   S = W2 h + b2,   p = softmax(S)
//
// With no non-linearity between the layers, each class score is linear in the input:
//
//   S_k(x) = v_k . x + c_k,   v_k = W1^T W2[k, :]   (c_k = W2[k, :] . b1 + b2[k])
//
// and the class model, the input maximising S_k(x) - lambda ||x||^2, is where the gradient
// v_k - 2 lambda x vanishes:
//
//   x*_k = v_k / (2 lambda),   S_k(x*_k) = ||v_k||^2 / (2 lambda) + c_k.
//
// `cuviz classviz` runs the same configuration of the one render loop (class_model_options: the
// input itself as the parameters, from zeros, SGD with the L2 decay 2 lambda), so the image it
// optimises must converge to x*_k. The program prints both and exits 1 when they disagree.
#include <cmath>
#include <cstdio>
#include <vector>

#include "nn/graph.h"
#include "nn/network.h"
#include "viz/class_model.h"
#include "viz/objective.h"
#include "viz/render.h"

using namespace cuviz;

namespace {

constexpr int kSize = 8, kInputs = 3 * kSize * kSize, kHidden = 6, kClasses = 3;

// A linear layer with weights and biases from a fixed formula (small, varied, reproducible).
LayerDesc linear(const std::string& name, const std::string& in, int inputs, int outputs, double scale) {
  LayerDesc l;
  l.name = name;
  l.kind = LayerKind::linear;
  l.inputs = {in};
  l.output = name;
  OwnedTensor w(Shape{outputs, inputs, 1, 1}), b(Shape{1, outputs, 1, 1});
  for (int o = 0; o < outputs; ++o) {
    for (int i = 0; i < inputs; ++i) w.data()[o * inputs + i] = float(scale * std::sin(0.7 * (o + 1) * (i + 1) + o));
    b.data()[o] = float(0.1 * (o - 1));
  }
  l.weights.push_back(std::move(w));
  l.weights.push_back(std::move(b));
  return l;
}

Graph two_layer_net() {
  Graph g;
  g.name = "two_layer";
  g.input = "data";
  g.input_shape = Shape{1, 3, kSize, kSize};
  g.meta.input_size = kSize;
  g.meta.value_scale = 1.f;  // network input = image - 0.5
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  g.layers.push_back(linear("hidden", "data", kInputs, kHidden, 0.05));
  g.layers.push_back(linear("scores", "hidden", kHidden, kClasses, 0.5));
  LayerDesc softmax;
  softmax.name = "prob";
  softmax.kind = LayerKind::softmax;
  softmax.inputs = {"scores"};
  softmax.output = "prob";
  g.layers.push_back(std::move(softmax));
  return g;
}

}  // namespace

int main() {
  const Network net(two_layer_net(), Device::cpu);
  const Tensor& w1 = net.weight("hidden", 0);  // {6, 192, 1, 1}
  const Tensor& b1 = net.weight("hidden", 1);
  const Tensor& w2 = net.weight("scores", 0);  // {3, 6, 1, 1}
  const Tensor& b2 = net.weight("scores", 1);

  ClassModelSettings s;
  s.size = kSize;
  s.lambda = 0.5;  // x* = v_k
  s.lr = 0.5;      // x <- x + 0.5 (v_k - x): the distance to x* halves each step
  s.momentum = 0;
  s.steps = 60;
  s.clip = false;  // x* lies inside the valid range anyway (|v_k| < 0.5)

  bool ok = true;
  for (int k = 0; k < kClasses; ++k) {
    // The closed form: v_k = W1^T W2[k, :], c_k = W2[k, :] . b1 + b2[k].
    std::vector<double> v(kInputs, 0.0);
    double c = b2.data()[k];
    for (int h = 0; h < kHidden; ++h) {
      const double w2kh = w2.data()[k * kHidden + h];
      c += w2kh * b1.data()[h];
      for (int i = 0; i < kInputs; ++i) v[size_t(i)] += w2kh * w1.data()[h * kInputs + i];
    }
    double vv = 0;
    for (double e : v) vv += e * e;

    // The class model by the render loop.
    Renderer r(net, {class_logit("logit", k)}, class_model_options(s, Device::cpu));
    render_loop(r);
    const Tensor& x = r.params();  // the network input (CPU)
    double err = 0, largest = 0, score = c;
    for (int i = 0; i < kInputs; ++i) {
      const double want = v[size_t(i)] / (2 * s.lambda);
      err = std::max(err, std::abs(double(x.data()[i]) - want));
      largest = std::max(largest, std::abs(want));
      score += v[size_t(i)] * double(x.data()[i]);
    }
    const double best = vv / (2 * s.lambda) + c;
    const bool pass = err <= 1e-5 * largest && std::abs(score - best) <= 1e-5 * std::abs(best);
    ok = ok && pass;
    std::printf("class %d: max |x - v_k/(2 lambda)| = %.3g (largest entry %.3g); S_k(x) = %.6f, closed form %.6f  %s\n",
                k, err, largest, score, best, pass ? "ok" : "MISMATCH");
  }
  std::printf("%s\n", ok ? "the render loop found every closed-form class model" : "mismatch");
  return ok ? 0 : 1;
}
