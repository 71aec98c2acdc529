// GPU kernel benchmarks: every GoogLeNet (BVLC) convolution layer forward, backward-data and
// backward-weight with our implicit-GEMM kernels, next to cuDNN (strict FP32, exhaustively
// searched algorithm) on the same shape, plus pooling, LRN, softmax (vs cuDNN) and linear (vs
// cuBLAS). GFLOP/s = 2 * MACs / time. Each timed iteration: L2 flushed (a memset twice the L2
// size), then CUDA events around the op; one untimed warm-up call first; 25 timed runs, of
// which Google Benchmark's line shows the mean and the summary table printed at the end the
// median (ours, the baseline's median of 15, and ours as % of the baseline's speed).
//   build-gpu/gpu_ops_bench                               # batch 32 (CUVIZ_BENCH_BATCH to change)
//   build-gpu/gpu_ops_bench --benchmark_filter='conv_fwd' # one family
//   CUVIZ_BENCH_PRECISION=bf16 build-gpu/gpu_ops_bench    # our convs on the tensor cores (tf32 or
//                                                         # bf16; forward and backward-data only),
//                                                         # cuDNN stays strict FP32
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/conv2d.h"
#include "core/cuda_check.cuh"
#include "kernels/cudnn_oracle.h"
#include "kernels/linear.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "kernels/softmax.h"
#include "core/nvtx.h"
#include "core/tensor.h"

namespace cuviz {
namespace {

int batch_size() {
  const char* b = std::getenv("CUVIZ_BENCH_BATCH");
  return b ? std::max(1, std::atoi(b)) : 32;
}

// p[i] = a uniform value in [-1, 1) hashed from (seed, i) (splitmix64): fast, no host copy.
__global__ void fill_random_kernel(float* p, int64_t n, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + uint64_t(i);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    p[i] = float(z >> 40) * (2.f / 16777216.f) - 1.f;
  }
}

// A device tensor of `shape` with uniform values in [-1, 1) (never time zeros).
OwnedTensor random_device(Shape shape, uint64_t seed) {
  OwnedTensor dev(shape, Device::cuda);
  fill_random_kernel<<<1024, 256>>>(dev.data(), dev.numel(), seed);
  CUVIZ_CUDA_LAUNCH_CHECK();
  return dev;
}

// Times `op` on the default stream: L2 flushed before each run, CUDA events around it.
class Timer {
 public:
  Timer() {
    int l2 = 0;
    CUVIZ_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    flush_bytes_ = std::max<size_t>(size_t(l2) * 2, 1 << 20);
    flush_ = Buffer(flush_bytes_, Device::cuda);
    CUVIZ_CUDA_CHECK(cudaEventCreate(&start_));
    CUVIZ_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~Timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  // Seconds of one run of op.
  double seconds(const std::function<void()>& op) {
    CUVIZ_CUDA_CHECK(cudaMemsetAsync(flush_.data(), 0, flush_bytes_, 0));
    CUVIZ_CUDA_CHECK(cudaEventRecord(start_, 0));
    op();
    CUVIZ_CUDA_CHECK(cudaEventRecord(stop_, 0));
    CUVIZ_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.f;
    CUVIZ_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms * 1e-3;
  }
  // Median seconds over `runs` runs after one warm-up.
  double median_seconds(const std::function<void()>& op, int runs = 15) {
    op();
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) t.push_back(seconds(op));
    std::nth_element(t.begin(), t.begin() + runs / 2, t.end());
    return t[runs / 2];
  }

 private:
  size_t flush_bytes_ = 0;
  Buffer flush_;
  cudaEvent_t start_{}, stop_{};
};

Timer& timer() {
  static Timer t;
  return t;
}

// One row of the final summary: ours and the baseline, median seconds.
struct Row {
  std::string name;
  double flops, ours_s, base_s;
};
std::map<std::string, Row>& summary() {
  static std::map<std::string, Row> rows;
  return rows;
}

// Runs the benchmark loop on `ours` with manual (event) timing, measures `baseline` (may be
// empty) the same way, and reports GFLOP/s and the percentage of the baseline's speed.
void run(benchmark::State& state, const std::string& name, double flops, const std::function<void()>& ours,
         const std::function<void()>& baseline) {
  NvtxRange range(name);
  ours();  // warm-up (also first-touch of lazily loaded modules)
  std::vector<double> times;
  for (auto _ : state) {
    const double s = timer().seconds(ours);
    times.push_back(s);
    state.SetIterationTime(s);
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  const double ours_s = times[times.size() / 2];
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  double base_s = 0;
  if (baseline) {
    base_s = timer().median_seconds(baseline);
    state.counters["base_GFLOP/s"] = flops / base_s * 1e-9;
    state.counters["pct_of_base"] = 100.0 * base_s / ours_s;
  }
  summary()[name] = Row{name, flops, ours_s, base_s};
}

// ---- convolutions: every conv layer of BVLC GoogLeNet at 224 x 224 ---------------------------

struct ConvLayer {
  const char* name;
  int c, hw, o, k, stride, pad;
};

const ConvLayer kGoogLeNet[] = {
    {"conv1/7x7_s2", 3, 224, 64, 7, 2, 3},
    {"conv2/3x3_reduce", 64, 56, 64, 1, 1, 0},
    {"conv2/3x3", 64, 56, 192, 3, 1, 1},
    {"3a/1x1", 192, 28, 64, 1, 1, 0},     {"3a/3x3_reduce", 192, 28, 96, 1, 1, 0},
    {"3a/3x3", 96, 28, 128, 3, 1, 1},     {"3a/5x5_reduce", 192, 28, 16, 1, 1, 0},
    {"3a/5x5", 16, 28, 32, 5, 1, 2},      {"3a/pool_proj", 192, 28, 32, 1, 1, 0},
    {"3b/1x1", 256, 28, 128, 1, 1, 0},    {"3b/3x3_reduce", 256, 28, 128, 1, 1, 0},
    {"3b/3x3", 128, 28, 192, 3, 1, 1},    {"3b/5x5_reduce", 256, 28, 32, 1, 1, 0},
    {"3b/5x5", 32, 28, 96, 5, 1, 2},      {"3b/pool_proj", 256, 28, 64, 1, 1, 0},
    {"4a/1x1", 480, 14, 192, 1, 1, 0},    {"4a/3x3_reduce", 480, 14, 96, 1, 1, 0},
    {"4a/3x3", 96, 14, 208, 3, 1, 1},     {"4a/5x5_reduce", 480, 14, 16, 1, 1, 0},
    {"4a/5x5", 16, 14, 48, 5, 1, 2},      {"4a/pool_proj", 480, 14, 64, 1, 1, 0},
    {"4b/1x1", 512, 14, 160, 1, 1, 0},    {"4b/3x3_reduce", 512, 14, 112, 1, 1, 0},
    {"4b/3x3", 112, 14, 224, 3, 1, 1},    {"4b/5x5_reduce", 512, 14, 24, 1, 1, 0},
    {"4b/5x5", 24, 14, 64, 5, 1, 2},      {"4b/pool_proj", 512, 14, 64, 1, 1, 0},
    {"4c/1x1", 512, 14, 128, 1, 1, 0},    {"4c/3x3_reduce", 512, 14, 128, 1, 1, 0},
    {"4c/3x3", 128, 14, 256, 3, 1, 1},    {"4c/5x5_reduce", 512, 14, 24, 1, 1, 0},
    {"4c/5x5", 24, 14, 64, 5, 1, 2},      {"4c/pool_proj", 512, 14, 64, 1, 1, 0},
    {"4d/1x1", 512, 14, 112, 1, 1, 0},    {"4d/3x3_reduce", 512, 14, 144, 1, 1, 0},
    {"4d/3x3", 144, 14, 288, 3, 1, 1},    {"4d/5x5_reduce", 512, 14, 32, 1, 1, 0},
    {"4d/5x5", 32, 14, 64, 5, 1, 2},      {"4d/pool_proj", 512, 14, 64, 1, 1, 0},
    {"4e/1x1", 528, 14, 256, 1, 1, 0},    {"4e/3x3_reduce", 528, 14, 160, 1, 1, 0},
    {"4e/3x3", 160, 14, 320, 3, 1, 1},    {"4e/5x5_reduce", 528, 14, 32, 1, 1, 0},
    {"4e/5x5", 32, 14, 128, 5, 1, 2},     {"4e/pool_proj", 528, 14, 128, 1, 1, 0},
    {"5a/1x1", 832, 7, 256, 1, 1, 0},     {"5a/3x3_reduce", 832, 7, 160, 1, 1, 0},
    {"5a/3x3", 160, 7, 320, 3, 1, 1},     {"5a/5x5_reduce", 832, 7, 32, 1, 1, 0},
    {"5a/5x5", 32, 7, 128, 5, 1, 2},      {"5a/pool_proj", 832, 7, 128, 1, 1, 0},
    {"5b/1x1", 832, 7, 384, 1, 1, 0},     {"5b/3x3_reduce", 832, 7, 192, 1, 1, 0},
    {"5b/3x3", 192, 7, 384, 3, 1, 1},     {"5b/5x5_reduce", 832, 7, 48, 1, 1, 0},
    {"5b/5x5", 48, 7, 128, 5, 1, 2},      {"5b/pool_proj", 832, 7, 128, 1, 1, 0},
};

enum class Dir { forward, backward_data, backward_weight };

void bm_conv(benchmark::State& state, ConvLayer L, Dir dir) {
  const int n = batch_size();
  const Conv2dParams p = Conv2dParams::make(L.stride, L.pad);
  const Shape xs{n, L.c, L.hw, L.hw}, ws{L.o, L.c, L.k, L.k};
  const Shape ys = conv2d_output_shape(p, xs, ws);
  const OwnedTensor x = random_device(xs, 1), w = random_device(ws, 2), b = random_device(Shape{1, L.o, 1, 1}, 3),
                    dy = random_device(ys, 4);
  OwnedTensor y(ys, Device::cuda), dx(xs, Device::cuda), dw(ws, Device::cuda), db(Shape{1, L.o, 1, 1}, Device::cuda);
  const double flops = 2.0 * double(ys.numel()) * L.c * L.k * L.k;
  const bool cudnn = cudnn_oracle_available();
  const char* tag = dir == Dir::forward ? "conv_fwd/" : dir == Dir::backward_data ? "conv_bwd_data/" : "conv_bwd_weight/";
  std::function<void()> ours, base;
  if (dir == Dir::forward) {
    ours = [&] { conv2d_forward(p, x, w, b, y); };
    if (cudnn) base = [&] { cudnn_conv2d_forward(p, x, w, b, y, true); };
  } else if (dir == Dir::backward_data) {
    ours = [&] { conv2d_backward_data(p, dy, w, dx); };
    if (cudnn) base = [&] { cudnn_conv2d_backward_data(p, dy, w, dx, true); };
  } else {
    ours = [&] { conv2d_backward_weight(p, x, dy, dw, db); };
    if (cudnn) base = [&] { cudnn_conv2d_backward_weight(p, x, dy, dw, db); };
  }
  run(state, std::string(tag) + L.name, flops, ours, base);
}

// ---- the other ops on GoogLeNet's shapes ------------------------------------------------------

void bm_pool(benchmark::State& state) {
  const int n = batch_size();
  const Pool2dParams p = Pool2dParams::make(PoolMode::max, 3, 2, 0, true);  // pool1/3x3_s2
  const Shape xs{n, 64, 112, 112};
  const OwnedTensor x = random_device(xs, 5);
  OwnedTensor y(pool2d_output_shape(p, xs), Device::cuda), y2(y.shape(), Device::cuda), dx(xs, Device::cuda);
  const OwnedTensor dy = random_device(y.shape(), 6);
  pool2d_forward(p, x, y2);
  const double taps = double(y.numel()) * 9;
  // cuDNN has no ceil mode; its floor-mode pool of the same input is the baseline (one row fewer).
  Pool2dParams pf = p;
  pf.ceil_mode = false;
  OwnedTensor yf(pool2d_output_shape(pf, xs), Device::cuda);
  std::function<void()> base;
  if (cudnn_oracle_available()) base = [&] { cudnn_pool2d_forward(pf, x, yf); };
  if (state.range(0) == 0)
    run(state, "pool_fwd/pool1_3x3_s2", taps, [&] { pool2d_forward(p, x, y); }, base);
  else
    run(state, "pool_bwd_data/pool1_3x3_s2", taps, [&] { pool2d_backward_data(p, x, y2, dy, dx); }, {});
}

void bm_lrn(benchmark::State& state) {
  const Shape xs{batch_size(), 64, 56, 56};  // pool1/norm1
  const LrnParams p{5, 1e-4f, 0.75f, 1.f};
  const OwnedTensor x = random_device(xs, 7), dy = random_device(xs, 8);
  OwnedTensor y(xs, Device::cuda), dx(xs, Device::cuda);
  lrn_forward(p, x, y);
  std::function<void()> base;
  if (cudnn_oracle_available()) base = [&] { cudnn_lrn_forward(p, x, y); };
  if (state.range(0) == 0)
    run(state, "lrn_fwd/norm1", double(xs.numel()) * 2 * p.size, [&] { lrn_forward(p, x, y); }, base);
  else
    run(state, "lrn_bwd_data/norm1", double(xs.numel()) * 2 * p.size * p.size,
        [&] { lrn_backward_data(p, x, y, dy, dx); }, {});
}

void bm_softmax(benchmark::State& state) {
  const Shape xs{batch_size(), 1000, 1, 1};  // prob
  const OwnedTensor x = random_device(xs, 9);
  OwnedTensor y(xs, Device::cuda);
  std::function<void()> base;
  if (cudnn_oracle_available()) base = [&] { cudnn_softmax_forward(x, y, false); };
  run(state, "softmax_fwd/prob", double(xs.numel()) * 3, [&] { softmax_forward(x, y); }, base);
}

void bm_linear(benchmark::State& state) {
  const int n = batch_size();
  const OwnedTensor x = random_device(Shape{n, 1024, 1, 1}, 10), w = random_device(Shape{1000, 1024, 1, 1}, 11),
                    b = random_device(Shape{1, 1000, 1, 1}, 12);
  OwnedTensor y(Shape{n, 1000, 1, 1}, Device::cuda);
  run(state, "linear_fwd/loss3_classifier", 2.0 * n * 1000 * 1024, [&] { linear_forward(x, w, b, y); },
      [&] { cublas_linear_forward(x, w, b, y); });
}

void register_all() {
  auto common = [](benchmark::internal::Benchmark* b) {
    b->UseManualTime()->Iterations(25)->Unit(benchmark::kMicrosecond);
  };
  for (const ConvLayer& L : kGoogLeNet) {
    common(benchmark::RegisterBenchmark((std::string("conv_fwd/") + L.name).c_str(), bm_conv, L, Dir::forward));
    common(
        benchmark::RegisterBenchmark((std::string("conv_bwd_data/") + L.name).c_str(), bm_conv, L, Dir::backward_data));
    common(benchmark::RegisterBenchmark((std::string("conv_bwd_weight/") + L.name).c_str(), bm_conv, L,
                                        Dir::backward_weight));
  }
  common(benchmark::RegisterBenchmark("pool_fwd", bm_pool)->Arg(0));
  common(benchmark::RegisterBenchmark("pool_bwd_data", bm_pool)->Arg(1));
  common(benchmark::RegisterBenchmark("lrn_fwd", bm_lrn)->Arg(0));
  common(benchmark::RegisterBenchmark("lrn_bwd_data", bm_lrn)->Arg(1));
  common(benchmark::RegisterBenchmark("softmax_fwd", bm_softmax));
  common(benchmark::RegisterBenchmark("linear_fwd", bm_linear));
}

void print_summary() {
  std::printf("\n%-34s %12s %12s %12s %12s %9s\n", "op/layer", "ours us", "base us", "ours GF/s", "base GF/s",
              "% of base");
  double ours_total = 0, base_total = 0;
  for (const auto& [name, r] : summary()) {
    const bool has_base = r.base_s > 0;
    std::printf("%-34s %12.1f %12s %12.1f %12s %9s\n", name.c_str(), r.ours_s * 1e6,
                has_base ? cat(int(r.base_s * 1e6 + 0.5)).c_str() : "-", r.flops / r.ours_s * 1e-9,
                has_base ? cat(int(r.flops / r.base_s * 1e-9 + 0.5)).c_str() : "-",
                has_base ? cat(int(100 * r.base_s / r.ours_s + 0.5), "%").c_str() : "-");
    if (has_base && name.rfind("conv_fwd/", 0) == 0) {
      ours_total += r.ours_s;
      base_total += r.base_s;
    }
  }
  if (ours_total > 0)
    std::printf("\nall GoogLeNet conv forwards (batch %d): ours %.3f ms, cuDNN %.3f ms, %.0f%% of cuDNN\n",
                batch_size(), ours_total * 1e3, base_total * 1e3, 100 * base_total / ours_total);
}

}  // namespace
}  // namespace cuviz

int main(int argc, char** argv) {
  if (!cuviz::cuda_available()) {
    std::fprintf(stderr, "gpu_ops_bench: no CUDA device (or no driver): nothing to measure\n");
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  cuviz::register_all();
  cuviz::ExecContext context;  // every op of the run at CUVIZ_BENCH_PRECISION (default fp32)
  try {
    const char* precision = std::getenv("CUVIZ_BENCH_PRECISION");
    context.precision = cuviz::parse_precision(precision ? precision : "fp32");
  } catch (const cuviz::Error& e) {
    std::fprintf(stderr, "gpu_ops_bench: CUVIZ_BENCH_PRECISION: %s\n", e.what());
    return 2;
  }
  const cuviz::ExecScope scope(context);
  std::printf("conv precision: %s (cuDNN baselines: FP32)\n", cuviz::precision_name(context.precision));
  try {
    benchmark::RunSpecifiedBenchmarks();
  } catch (const cuviz::Error& e) {
    std::fprintf(stderr, "gpu_ops_bench: %s\n", e.what());
    return 1;
  }
  cuviz::print_summary();
  benchmark::Shutdown();
  return 0;
}
