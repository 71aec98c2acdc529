// Attribution speed on the real GoogLeNet, CPU, 224 px, one photo (astronaut.png), its top class
// (docs/performance.md "Attribution"; bench/attribution_vs_captum.sh runs it beside Captum):
//   gradient      attribute_gradient: one map per call, as the library and `cuviz attribute` make it
//                 (plans the Attributor, allocates, one forward + backward)
//   gradient_warm the same gradient on an Attributor made once (forward + backward only)
//   ig50          attribute_integrated_gradients, 50 Gauss-Legendre steps, zero baseline, batch 8
// Rows report maps/s. The machine is shared: read the best and median of repetitions.
//   OMP_NUM_THREADS=1 build/attribution_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>

#include "loaders/model.h"
#include "nn/network.h"
#include "viz/attribute_methods.h"
#include "viz/attribution.h"
#include "viz/image_source.h"

namespace cuviz {
namespace {

struct Setup {
  Network net{load_model("googlenet"), Device::cpu};
  OwnedTensor x = load_network_input(std::string(CUVIZ_SHARED_DIR) + "/images/astronaut.png", net.graph().meta, 1, 224);
  int target = 560;  // football helmet, the top class
};

Setup& setup() {
  static Setup s;
  return s;
}

void configure(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("best_time", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}

void BM_gradient(benchmark::State& state) {
  Setup& s = setup();
  const AttributionSettings settings;
  for (auto _ : state) benchmark::DoNotOptimize(attribute_gradient(s.net, s.x, {s.target}, settings).raw.data());
  state.counters["maps/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_gradient)->Apply(configure);

void BM_gradient_warm(benchmark::State& state) {
  Setup& s = setup();
  Attributor a(s.net, {target_objective(s.net.graph(), s.target, false)}, s.x.shape());
  for (auto _ : state) benchmark::DoNotOptimize(a.gradient(s.x).data());
  state.counters["maps/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_gradient_warm)->Apply(configure);

void BM_ig50(benchmark::State& state) {
  Setup& s = setup();
  const AttributionSettings settings;  // 50 steps, gausslegendre, zero baseline, batch 8
  for (auto _ : state)
    benchmark::DoNotOptimize(attribute_integrated_gradients(s.net, s.x, {s.target}, settings).raw.data());
  state.counters["maps/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ig50)->Apply(configure)->Iterations(1);

}  // namespace
}  // namespace cuviz

BENCHMARK_MAIN();
