// Whole-network CPU speed on the real BVLC GoogLeNet (Caffe files, $CUVIZ_MODEL_PATH or
// ../shared/weights): forward of the full network and truncated at inception_4a/output, and one
// render step's network part (forward + seed + backward_to_input, no weight gradients) at 128 px
// batch 4 and 224 px batch 1, and at 128 px batch 4 with the batch split over the threads
// (BM_step_split); then every layer of the 128 px batch-4 step timed on its own.
// GFLOP/s: forward = 2 * MACs, step = 4 * MACs (forward plus the data-gradient backward), MACs of
// the plan's conv and linear layers (Network::describe) times the batch.
// The machine is shared: run with repetitions and read both the best (least disturbed) and the
// median rows, e.g.
//   OMP_NUM_THREADS=2 build/network_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>

#include <omp.h>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "loaders/model.h"
#include "nn/network.h"

namespace cuviz {
namespace {

void fill_random(const Tensor& t, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int n = 0; n < t.n(); ++n)
    for (int64_t k = 0; k < t.shape().image_size(); ++k) t.image(n)[k] = u(rng);
}

// The one network every benchmark shares (loading the Caffe file takes a second).
const Network& googlenet() {
  static const Network net(load_model("googlenet", ModelFormat::caffe), Device::cpu);
  return net;
}

// Forward MACs of a plan, all images.
double plan_macs(const Network& net, const Plan& p) {
  double macs = 0;
  for (const auto& l : net.describe(p)) macs += double(l.macs);
  return macs * p.input_shape().n;
}

// Fastest repetition: min of the times, max of the rates (benchmark applies a statistic to times
// and counters alike, so "best" picks the extreme that means "least disturbed").
void add_best(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("best_time", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
  b->ComputeStatistics("best_rate", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

void set_rates(benchmark::State& state, double flops, int images) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["images/s"] = benchmark::Counter(images, benchmark::Counter::kIsIterationInvariantRate);
}

// Forward of one batch up to `layer` ("" = the whole network).
void BM_forward(benchmark::State& state, std::string layer, int size, int batch) {
  const Network& net = googlenet();
  Plan p = net.plan(Shape{batch, 3, size, size}, layer.empty() ? std::vector<std::string>{} : std::vector{layer});
  OwnedTensor x(p.input_shape());
  fill_random(x, 1);
  for (auto _ : state) net.forward(p, x);
  set_rates(state, 2 * plan_macs(net, p), batch);
}

// One render step's network part: forward to `layer`, seed its gradient, backward to the input.
void BM_step(benchmark::State& state, std::string layer, int size, int batch) {
  const Network& net = googlenet();
  Plan p = net.plan(Shape{batch, 3, size, size}, {layer}, PlanOptions{.backward = true});
  OwnedTensor x(p.input_shape()), dx(p.input_shape());
  fill_random(x, 1);
  OwnedTensor seed(net.activation(p, layer).shape());
  fill_random(seed, 2);
  for (auto _ : state) {
    net.forward(p, x);
    copy(seed, net.activation_grad(p, layer));
    net.backward_to_input(p, dx);
  }
  set_rates(state, 4 * plan_macs(net, p), batch);
  state.counters["image-steps/s"] = state.counters["images/s"];
}

// The same step with the batch split over the OpenMP threads instead of every op: one plan of
// batch / threads images per thread, each running its whole forward and backward with
// single-threaded ops (nested regions are off), so the threads meet once per step rather than at
// every op's barrier. An experiment for the render loop; Network itself threads per op.
void BM_step_split(benchmark::State& state, std::string layer, int size, int batch) {
  const Network& net = googlenet();
  const int threads = std::min(omp_get_max_threads(), batch);
  if (batch % threads != 0) return state.SkipWithError("the batch must split evenly over the threads");
  const int per = batch / threads;
  std::vector<Plan> plans;
  std::vector<OwnedTensor> xs, dxs, seeds;
  for (int t = 0; t < threads; ++t) {
    plans.push_back(net.plan(Shape{per, 3, size, size}, {layer}, PlanOptions{.backward = true}));
    xs.emplace_back(plans[t].input_shape());
    dxs.emplace_back(plans[t].input_shape());
    fill_random(xs[t], 1 + t);
    seeds.emplace_back(net.activation(plans[t], layer).shape());
    fill_random(seeds[t], 2 + t);
  }
  SerialBlas serial;  // for the whole step, not per op: the threads' ops must not race on it
  std::string error;
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      try {
        net.forward(plans[t], xs[t]);
        copy(seeds[t], net.activation_grad(plans[t], layer));
        net.backward_to_input(plans[t], dxs[t]);
      } catch (const std::exception& e) {
#pragma omp critical
        error = e.what();
      }
    }
    if (!error.empty()) return state.SkipWithError(error.c_str());
  }
  set_rates(state, 4 * plan_macs(net, plans[0]) * threads, batch);
  state.counters["image-steps/s"] = state.counters["images/s"];
}

// ---- one layer at a time, on the shapes and data of the 128 px batch-4 step ------------------

struct LayerCase {
  const LayerDesc* layer;
  Tensor x, y;             // the plan's input and output activations of the layer
  bool fuse_relu = false;  // conv followed by an in-place ReLU (the plan fuses it into the conv)
};

// Runs the 128 px batch-4 step's forward once and collects every compute layer with its tensors.
std::vector<LayerCase>& step_layers() {
  static std::unique_ptr<Plan> plan;
  static std::vector<LayerCase> cases;
  if (plan) return cases;
  const Network& net = googlenet();
  // Every layer's input and output is read below: a plan that keeps them all.
  plan = std::make_unique<Plan>(net.plan(Shape{4, 3, 128, 128}, {"inception_4a/output"},
                                         PlanOptions{.backward = true, .stash = Stash::full}));
  OwnedTensor x(plan->input_shape());
  fill_random(x, 1);
  net.forward(*plan, x);
  const auto& layers = net.graph().layers;
  for (const auto& name : plan->layers()) {
    const auto it = std::find_if(layers.begin(), layers.end(), [&](const LayerDesc& l) { return l.name == name; });
    const LayerDesc& l = *it;
    if (l.kind != LayerKind::conv && l.kind != LayerKind::relu && l.kind != LayerKind::pool &&
        l.kind != LayerKind::lrn)
      continue;
    LayerCase c{&l, net.activation(*plan, l.inputs[0]), net.activation(*plan, l.output)};
    if (l.kind == LayerKind::conv)
      c.fuse_relu = std::any_of(layers.begin(), layers.end(), [&](const LayerDesc& r) {
        return r.kind == LayerKind::relu && r.inputs[0] == l.output && r.output == l.output;
      });
    cases.push_back(c);
  }
  return cases;
}

// The layer's forward op, writing a private output (the plan's activations stay intact).
void BM_layer_forward(benchmark::State& state, size_t index) {
  const LayerCase& c = step_layers()[index];
  const LayerDesc& l = *c.layer;
  OwnedTensor y(c.y.shape());
  double flops = 0;
  for (auto _ : state) {
    switch (l.kind) {
      case LayerKind::conv: {
        Conv2dParams p = l.conv;
        p.fuse_relu = c.fuse_relu;
        conv2d_forward(p, c.x, l.weights[0], l.weights.size() > 1 ? Tensor(l.weights[1]) : Tensor(), y);
        break;
      }
      case LayerKind::relu: break;  // fused into the conv's forward
      case LayerKind::pool: pool2d_forward(l.pool, c.x, y); break;
      case LayerKind::lrn: lrn_forward(l.lrn, c.x, y); break;
      default: break;
    }
  }
  if (l.kind == LayerKind::conv) {
    const Shape w = l.weights[0].shape();
    flops = 2.0 * double(c.y.numel()) * w.c * w.h * w.w;
  }
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The layer's data-gradient op as backward_to_input runs it (ReLU in place on its gradient).
void BM_layer_backward(benchmark::State& state, size_t index) {
  const LayerCase& c = step_layers()[index];
  const LayerDesc& l = *c.layer;
  OwnedTensor dy(c.y.shape()), dx(c.x.shape());
  fill_random(dy, 3);
  double flops = 0;
  for (auto _ : state) {
    switch (l.kind) {
      case LayerKind::conv: conv2d_backward_data(l.conv, dy, l.weights[0], dx); break;
      case LayerKind::relu: relu_backward_data(c.y, dy, dy); break;
      case LayerKind::pool: pool2d_backward_data(l.pool, c.x, c.y, dy, dx); break;
      case LayerKind::lrn: lrn_backward_data(l.lrn, c.x, c.y, dy, dx); break;
      default: break;
    }
  }
  if (l.kind == LayerKind::conv) {
    const Shape w = l.weights[0].shape();
    flops = 2.0 * double(c.y.numel()) * w.c * w.h * w.w;
  }
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  add_best(benchmark::RegisterBenchmark("forward/full/224/batch:1", BM_forward, std::string(), 224, 1));
  add_best(benchmark::RegisterBenchmark("forward/inception_4a/224/batch:1", BM_forward, "inception_4a/output", 224, 1));
  add_best(benchmark::RegisterBenchmark("forward/inception_4a/128/batch:4", BM_forward, "inception_4a/output", 128, 4));
  add_best(benchmark::RegisterBenchmark("step/inception_4a/128/batch:4", BM_step, "inception_4a/output", 128, 4));
  add_best(benchmark::RegisterBenchmark("step/inception_4a/224/batch:1", BM_step, "inception_4a/output", 224, 1));
  add_best(benchmark::RegisterBenchmark("step_split/inception_4a/128/batch:4", BM_step_split, "inception_4a/output",
                                        128, 4));
  const auto& cases = step_layers();
  for (size_t i = 0; i < cases.size(); ++i) {
    const LayerDesc& l = *cases[i].layer;
    if (l.kind != LayerKind::relu)
      add_best(benchmark::RegisterBenchmark(("layer_forward/128/batch:4/" + l.name).c_str(), BM_layer_forward, i));
    add_best(benchmark::RegisterBenchmark(("layer_backward/128/batch:4/" + l.name).c_str(), BM_layer_backward, i));
  }
}

}  // namespace
}  // namespace cuviz

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The shared weights, unless the caller chose a model path.
  setenv("CUVIZ_MODEL_PATH", CUVIZ_SHARED_DIR "/weights", 0);
  try {
    cuviz::register_all();
  } catch (const std::exception& e) {
    std::cerr << "network_bench: " << e.what() << "\n";
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
