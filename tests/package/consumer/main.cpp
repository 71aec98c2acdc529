// A program against the installed cuviz library (tests/package/consumer, built by
// scripts/package-check.sh through find_package(cuviz) and cuviz::cuviz, and once more through
// pkg-config). It checks two things a user of the library does first:
//   1. a network built in code runs: one linear layer y = W x + b, W[o][i] = (o + 1) - i / 10,
//      b[o] = o, on x[i] = i / 4, against the same sum in double here (the library sums in
//      float: 1e-5 relative);
//   2. with a model name or path as argument, the model loads (Caffe/ONNX through protobuf):
//      prints its layer count and parameter count, e.g. "googlenet: 142 layers, 6998552 params".
// Exit 0 when both hold, 1 otherwise.
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>

#include "core/tensor.h"
#include "loaders/model.h"
#include "nn/graph.h"
#include "nn/network.h"

using namespace cuviz;

namespace {

constexpr int kIn = 5, kOut = 3;

bool linear_layer_runs() {
  Graph g;
  g.name = "consumer_linear";
  g.input = "data";
  g.input_shape = Shape{1, kIn, 1, 1};
  LayerDesc l;
  l.name = "fc";
  l.kind = LayerKind::linear;
  l.inputs = {"data"};
  l.output = "fc";
  OwnedTensor w(Shape{kOut, kIn, 1, 1}), b(Shape{1, kOut, 1, 1});
  for (int o = 0; o < kOut; ++o) {
    for (int i = 0; i < kIn; ++i) w.data()[o * kIn + i] = float(o + 1) - float(i) / 10.f;
    b.data()[o] = float(o);
  }
  l.weights.push_back(std::move(w));
  l.weights.push_back(std::move(b));
  g.layers.push_back(std::move(l));

  const Network net(std::move(g), Device::cpu);
  Plan plan = net.plan(Shape{1, kIn, 1, 1}, {"fc"});
  OwnedTensor x(Shape{1, kIn, 1, 1});
  for (int i = 0; i < kIn; ++i) x.data()[i] = float(i) / 4.f;
  net.forward(plan, x);
  OwnedTensor y(Shape{1, kOut, 1, 1});
  net.read_activation(plan, "fc", y);

  bool ok = true;
  for (int o = 0; o < kOut; ++o) {
    double want = o;
    for (int i = 0; i < kIn; ++i) want += (double(o + 1) - i / 10.0) * (i / 4.0);
    const bool pass = std::abs(double(y.data()[o]) - want) <= 1e-5 * std::abs(want);
    std::printf("fc[%d] = %.6f, by hand %.6f  %s\n", o, double(y.data()[o]), want, pass ? "ok" : "MISMATCH");
    ok = ok && pass;
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bool ok = linear_layer_runs();
    if (argc > 1) {
      const Graph g = load_model(argv[1]);
      long long params = 0;
      for (const LayerDesc& l : g.layers)
        for (const OwnedTensor& t : l.weights) params += t.numel();
      std::printf("%s: %zu layers, %lld params\n", argv[1], g.layers.size(), params);
      ok = ok && !g.layers.empty() && params > 0;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: error: %s\n", e.what());
    return 1;
  }
}
