// CPU convolution and SGEMM throughput on GoogLeNet's layer shapes, batch 1 and 4.
// Reports GFLOP/s as 2 * MACs per second (MACs = N * O * out_h * out_w * C/G * kh * kw).
// The machine is shared: run with --benchmark_repetitions=N and read the "best" rows (fastest
// repetition: the least disturbed by other processes), e.g.
//   build/conv_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"

namespace cuviz {
namespace {

struct Layer {
  const char* name;
  int c, h, o, k, stride, pad;
};

// GoogLeNet (Caffe BVLC) layers: the stem, the biggest 3x3, and an inception 3x3 / 1x1 pair.
const Layer kLayers[] = {
    {"conv1/7x7_s2", 3, 224, 64, 7, 2, 3},
    {"conv2/3x3", 64, 56, 192, 3, 1, 1},
    {"inception_4a/3x3", 96, 14, 208, 3, 1, 1},
    {"inception_4a/1x1", 480, 14, 192, 1, 1, 0},
};

void fill_random(std::vector<float>& v, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& f : v) f = u(rng);
}

struct ConvData {
  Conv2dParams p;
  Shape xs, ws, ys;
  std::vector<float> x, w, b, y;
  ConvData(const Layer& l, int batch) : p(Conv2dParams::make(l.stride, l.pad)) {
    xs = Shape{batch, l.c, l.h, l.h};
    ws = Shape{l.o, l.c, l.k, l.k};
    ys = conv2d_output_shape(p, xs, ws);
    x.resize(size_t(xs.numel()));
    w.resize(size_t(ws.numel()));
    b.resize(size_t(l.o));
    y.resize(size_t(ys.numel()));
    fill_random(x, 1);
    fill_random(w, 2);
    fill_random(b, 3);
  }
  double flops() const { return 2.0 * double(ys.numel()) * ws.c * ws.h * ws.w; }
};

void BM_conv_forward(benchmark::State& state, Layer l, int batch) {
  ConvData d(l, batch);
  const Tensor x(d.x.data(), d.xs), w(d.w.data(), d.ws), b(d.b.data(), Shape{1, l.o, 1, 1}), y(d.y.data(), d.ys);
  for (auto _ : state) {
    conv2d_forward(d.p, x, w, b, y);
    benchmark::DoNotOptimize(d.y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(d.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_conv_backward_data(benchmark::State& state, Layer l, int batch) {
  ConvData d(l, batch);
  std::vector<float> dx(d.x.size());
  const Tensor dy(d.y.data(), d.ys), w(d.w.data(), d.ws), dxt(dx.data(), d.xs);
  fill_random(d.y, 4);
  for (auto _ : state) {
    conv2d_backward_data(d.p, dy, w, dxt);
    benchmark::DoNotOptimize(dx.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(d.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_conv_backward_weight(benchmark::State& state, Layer l, int batch) {
  ConvData d(l, batch);
  std::vector<float> dw(d.w.size()), db(d.b.size());
  const Tensor x(d.x.data(), d.xs), dy(d.y.data(), d.ys), dwt(dw.data(), d.ws), dbt(db.data(), Shape{1, l.o, 1, 1});
  fill_random(d.y, 4);
  for (auto _ : state) {
    conv2d_backward_weight(d.p, x, dy, dwt, dbt);
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(d.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The ceiling: the bare SGEMM that inception_4a/3x3 reduces to (O x K times K x P).
void BM_sgemm(benchmark::State& state) {
  const int m = int(state.range(0)), n = int(state.range(1)), k = int(state.range(2));
  std::vector<float> a(size_t(m) * k), bm(size_t(k) * n), c(size_t(m) * n);
  fill_random(a, 5);
  fill_random(bm, 6);
  for (auto _ : state) {
    sgemm(false, false, m, n, k, 1.f, a.data(), k, bm.data(), n, 0.f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The per-thread ceiling: the same product on one core (OpenBLAS single-threaded, as the conv
// ops call it from each OpenMP thread).
void BM_sgemm_serial(benchmark::State& state) {
  SerialBlas serial;
  BM_sgemm(state);
}

// Fastest repetition: min of the times, max of the GFLOP/s counters (benchmark applies a statistic
// to times and counters alike, so "best" picks the extreme that means "least disturbed").
void add_best(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->ComputeStatistics("best_time", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
  b->ComputeStatistics("best_rate", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

BENCHMARK(BM_sgemm)->Args({208, 196, 864})->Args({208, 256, 864})->Args({208, 784, 864})->Apply(add_best);
// 192 x 1024 x 576: conv2/3x3 at 128 px, one image; 192 x 344 x 576: one of its column tiles.
BENCHMARK(BM_sgemm_serial)
    ->Args({208, 196, 864})
    ->Args({192, 1024, 576})
    ->Args({192, 344, 576})
    ->Args({1024, 1024, 1024})
    ->Apply(add_best);

int register_all() {
  for (const Layer& l : kLayers)
    for (int batch : {1, 4}) {
      const std::string suffix = std::string(l.name) + "/batch:" + std::to_string(batch);
      add_best(benchmark::RegisterBenchmark(("conv_forward/" + suffix).c_str(), BM_conv_forward, l, batch));
      add_best(benchmark::RegisterBenchmark(("conv_backward_data/" + suffix).c_str(), BM_conv_backward_data, l, batch));
      add_best(
          benchmark::RegisterBenchmark(("conv_backward_weight/" + suffix).c_str(), BM_conv_backward_weight, l, batch));
    }
  return 0;
}
const int registered = register_all();

}  // namespace
}  // namespace cuviz

BENCHMARK_MAIN();
