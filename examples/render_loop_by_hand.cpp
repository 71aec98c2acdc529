// Activation maximisation written out by hand on one page, against the network API alone
// (nn/network.h), and the same optimisation by cuviz's Renderer (viz/render.h): the program
// checks that the two images agree. A reader sees every stage of a render step here; the Renderer
// adds parameterizations, transforms, regularizers, batches and CUDA graphs around exactly this.
//
//   objective(x) = mean over (y, x) of conv2(relu(conv1(x)))[channel 1]
//   repeat:  forward x -> seed d objective / d a = 1/(H W) on channel 1 -> backward to the input
//            -> x <- x + lr * d objective / d x          (gradient ascent on the input itself)
//
// The Renderer minimises L = -objective with SGD (momentum 0): x <- x - lr * dL/dx, the same
// update. CMake builds this program and CTest runs it (label `examples`); it exits 1 on mismatch.
#include <cmath>
#include <cstdio>

#include "nn/graph.h"
#include "nn/network.h"
#include "viz/objective.h"
#include "viz/render.h"

using namespace cuviz;

namespace {

constexpr int kSize = 16, kChannel = 1, kSteps = 20;
constexpr float kLr = 0.5f;

// A 3x3 convolution (padding 1) with weights from a fixed formula.
LayerDesc conv(const std::string& name, const std::string& in, int cin, int cout) {
  LayerDesc l;
  l.name = name;
  l.kind = LayerKind::conv;
  l.inputs = {in};
  l.output = name;
  l.conv = Conv2dParams::make(1, 1);
  OwnedTensor w(Shape{cout, cin, 3, 3}), b(Shape{1, cout, 1, 1});
  for (int64_t k = 0; k < w.numel(); ++k) w.data()[k] = float(0.3 * std::sin(1.3 * double(k) + cin));
  for (int o = 0; o < cout; ++o) b.data()[o] = 0.05f * float(o);
  l.weights.push_back(std::move(w));
  l.weights.push_back(std::move(b));
  return l;
}

// Caffe style: each conv's ReLU overwrites its output blob in place.
LayerDesc relu(const std::string& name, const std::string& blob) {
  LayerDesc l;
  l.name = name;
  l.kind = LayerKind::relu;
  l.inputs = {blob};
  l.output = blob;
  return l;
}

Graph two_conv_net() {
  Graph g;
  g.name = "two_conv";
  g.input = "data";
  g.input_shape = Shape{1, 3, kSize, kSize};
  g.meta.input_size = kSize;
  g.meta.value_scale = 1.f;  // network input = image - 0.5
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  g.layers.push_back(conv("conv1", "data", 3, 4));
  g.layers.push_back(relu("relu1", "conv1"));
  g.layers.push_back(conv("conv2", "conv1", 4, 3));
  g.layers.push_back(relu("relu2", "conv2"));
  return g;
}

// The objective: the mean of channel kChannel of a {1, C, H, W} activation (CPU).
double channel_mean(const Tensor& a) {
  double s = 0;
  for (int y = 0; y < a.h(); ++y)
    for (int x = 0; x < a.w(); ++x) s += a.at(0, kChannel, y, x);
  return s / double(a.h() * a.w());
}

}  // namespace

int main() {
  const Network net(two_conv_net(), Device::cpu);

  // cuviz's Renderer, configured as the plain loop below: the network input is the parameter
  // (no parameterization, no transforms), noise start, SGD without momentum, no ReLU redirect.
  RenderOptions o;
  o.size = kSize;
  o.steps = kSteps;
  o.param = ParamKind::input;
  o.transforms = TransformSpec::none();
  o.relu_override_steps = 0;
  o.source = ImageSource::parse("noise");
  o.optimizer = OptimizerKind::sgd;
  o.sgd.lr = kLr;
  o.sgd.momentum = 0.f;
  Renderer r(net, {channel("conv2", kChannel)}, o);

  // The loop by hand, from the Renderer's starting point.
  const Shape shape{1, 3, kSize, kSize};
  OwnedTensor x(shape), dx(shape);
  copy(r.params(), x);
  Plan plan = net.plan(shape, {"conv2"}, PlanOptions{.backward = true});
  double first = 0;
  for (int step = 0; step < kSteps; ++step) {
    net.forward(plan, x);                                 // every activation, and gradients zeroed
    const double value = channel_mean(net.activation(plan, "conv2"));
    if (step == 0) first = value;
    const Tensor seed = net.activation_grad(plan, "conv2");  // d objective / d conv2
    for (int yy = 0; yy < kSize; ++yy)
      for (int xx = 0; xx < kSize; ++xx) seed.at(0, kChannel, yy, xx) += 1.f / float(kSize * kSize);
    net.backward_to_input(plan, dx);                     // d objective / d x, through both ReLUs and convs
    for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] += kLr * dx.data()[k];  // ascent
  }
  net.forward(plan, x);
  const double final_value = channel_mean(net.activation(plan, "conv2"));

  render_loop(r);  // the same steps by the Renderer
  double diff = 0, largest = 0;
  for (int64_t k = 0; k < x.numel(); ++k) {
    diff = std::max(diff, std::abs(double(x.data()[k]) - double(r.params().data()[k])));
    largest = std::max(largest, std::abs(double(x.data()[k])));
  }
  const bool rose = final_value > first;
  const bool same = diff <= 1e-6 * largest;
  std::printf("objective by hand: %.6f at the start, %.6f after %d steps\n", first, final_value, kSteps);
  std::printf("hand loop vs Renderer: max |difference| %.3g (largest entry %.3g)  %s\n", diff, largest,
              same ? "ok" : "MISMATCH");
  return rose && same ? 0 : 1;
}
