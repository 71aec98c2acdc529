// Channel-sweep throughput, end to end, for the configurations S1-S4 of
// ../shared/design/PERFORMANCE.md: as `cuviz sweep` does it, one render loop (viz/render.h Renderer:
// param -> transforms -> forward to the layer -> objective -> backward -> adjoints -> Adam) is set
// up for the sweep and restarted for each batch of channels (the last one padded to the batch
// size); each batch is warmed up, timed over K steps (median of R repeats) and extrapolated to
// --steps (512), then its final evaluation and PNGs are timed.
//   channels/s = channels / sum over batches (setup + steps * t_step + finish)
//   TFLOP/s    = image-steps/s * 4 * forward MACs per image to the layer (forward + data-gradient
//                backward, Network::describe of the truncated plan), against the limit of the
//                conv precision: on an H100 FP32 60, TF32 ~400, BF16 ~790 TFLOP/s (PERFORMANCE.md);
//                on the CPU 200 GFLOP/s (OpenBLAS SGEMM, 2 cores) whatever the precision.
// --profile also times each stage of one step separately (the same calls as Renderer::gradient).
// --precision tf32|bf16 runs the convolutions' forward and backward-data on the tensor cores
// (on the CPU: the slower emulation, still compared with the CPU's FP32 limit).
//   sweep_bench [--config S1|S2|S3|S4|all] [--channels N] [--batch B] [--device cpu|cuda]
//               [--steps 512] [--timed K] [--warmup W] [--repeats R] [--precision fp32|tf32|bf16]
//               [--macs-only] [--profile]
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loaders/graph_builder.h"
#include "io/image.h"
#include "loaders/model.h"
#include "loaders/torchvision_models.h"
#include "core/cuda_runtime.h"
#include "nn/network.h"
#include "optim/optimizer.h"
#include "viz/gallery.h"
#include "viz/objective.h"
#include "viz/objective_eval.h"
#include "viz/render.h"
#include "viz/sweep.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One configuration of PERFORMANCE.md, with the forward MACs per image its table gives.
struct Config {
  std::string id, model, layer, note;
  int size = 224;
  int channels = 512;      // the layer's channel count (checked against the network)
  double table_gmacs = 0;  // PERFORMANCE.md, "Work per image-step"
};

const std::vector<Config>& configs() {
  static const std::vector<Config> all = {
      {"S1", "googlenet", "inception_4a/output", "", 224, 512, 0.984},
      {"S2", "googlenet", "inception_4a/output", "", 128, 512, 0.321},
      {"S3", "googlenet", "inception_4d/output", "", 224, 528, 1.290},
      // torchvision's names: features.28 is conv5_1, features.29 its ReLU (Lucid's conv5_1).
      {"S4", "vgg19", "features.29", "VGG-19 conv5_1 (ReLU), seeded weights", 224, 512, 18.12},
  };
  return all;
}

struct Args {
  std::string config = "all";
  int channels = 0;  // 0 = every channel of the layer
  int batch = 0;     // 0 = auto_sweep_batch
  Device device = Device::cpu;
  int steps = 512, timed = 16, warmup = 3, repeats = 3;
  bool macs_only = false, profile = false;
  std::string precision = "fp32";
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "sweep_bench: " << why << "\n"
            << "usage: sweep_bench [--config S1|S2|S3|S4|all] [--channels N] [--batch B] [--device cpu|cuda]\n"
               "                   [--steps 512] [--timed K] [--warmup W] [--repeats R] [--precision fp32|tf32|bf16]\n"
               "                   [--macs-only] [--profile]\n";
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  auto int_arg = [&](int& i, int lo) {
    if (i + 1 >= argc) usage(std::string(argv[i]) + " needs a value");
    char* end = nullptr;
    const long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < lo || v > 1000000) usage(std::string(argv[i - 1]) + ": bad value '" + argv[i] + "'");
    return int(v);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--config" && i + 1 < argc) {
      a.config = argv[++i];
    } else if (s == "--device" && i + 1 < argc) {
      const std::string d = argv[++i];
      if (d != "cpu" && d != "cuda") usage("--device must be cpu or cuda");
      a.device = d == "cuda" ? Device::cuda : Device::cpu;
    } else if (s == "--channels") {
      a.channels = int_arg(i, 1);
    } else if (s == "--batch") {
      a.batch = int_arg(i, 1);
    } else if (s == "--steps") {
      a.steps = int_arg(i, 1);
    } else if (s == "--timed") {
      a.timed = int_arg(i, 1);
    } else if (s == "--warmup") {
      a.warmup = int_arg(i, 0);
    } else if (s == "--repeats") {
      a.repeats = int_arg(i, 1);
    } else if (s == "--precision" && i + 1 < argc) {
      a.precision = argv[++i];
      if (a.precision != "fp32" && a.precision != "tf32" && a.precision != "bf16")
        usage("--precision must be fp32, tf32 or bf16");
    } else if (s == "--macs-only") {
      a.macs_only = true;
    } else if (s == "--profile") {
      a.profile = true;
    } else {
      usage("unknown argument '" + s + "'");
    }
  }
  if (a.config != "all" && std::none_of(configs().begin(), configs().end(), [&](const Config& c) {
        return c.id == a.config;
      }))
    usage("--config must be S1, S2, S3, S4 or all");
  return a;
}

// ---- VGG-19 features up to conv5_1, seeded weights ------------------------------------------

// u in [-1, 1) from a 64-bit counter: MurmurHash3's finaliser (deterministic, no RNG state).
float hash_uniform(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return float((int64_t(x >> 40) - (int64_t(1) << 23)) / double(1 << 23));
}

// torchvision's VGG-19 (cfg "E") features.0 .. features.29 (conv5_1 and its ReLU) with
// torchvision's layer names and preprocessing; conv weights He-uniform (sqrt(6 / fan_in)) and
// biases 0.1 * u from the hash of (layer, index), so activations keep their scale through depth.
// The classifier is not built: a sweep of conv5_1 never runs it.
Graph vgg19_to_conv5_1(int size) {
  static const std::vector<int> cfg = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512};
  GraphBuilder b("sweep_bench vgg19");
  b.set_input("input", Shape{1, 3, size, size});
  std::string x = "input";
  int index = 0, in_c = 3;
  for (int v : cfg) {
    const std::string name = cat("features.", index);
    LayerDesc l;
    l.name = name;
    l.inputs = {x};
    l.output = name;
    if (v == 0) {
      l.kind = LayerKind::pool;
      l.pool = Pool2dParams::make(PoolMode::max, 2, 2);
      b.add(std::move(l));
      x = name;
      index += 1;
      continue;
    }
    l.kind = LayerKind::conv;
    l.conv = Conv2dParams::make(1, 1);
    OwnedTensor w(Shape{v, in_c, 3, 3}), bias(Shape{1, v, 1, 1});
    const float scale = float(std::sqrt(6.0 / (in_c * 9)));
    const uint64_t base = uint64_t(index + 1) << 40;
    for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = scale * hash_uniform(base + uint64_t(i));
    for (int i = 0; i < v; ++i) bias.data()[i] = 0.1f * hash_uniform(base + (uint64_t(1) << 39) + uint64_t(i));
    l.weights.push_back(std::move(w));
    l.weights.push_back(std::move(bias));
    b.add(std::move(l));
    const std::string relu = cat("features.", index + 1);
    LayerDesc r;
    r.name = relu;
    r.kind = LayerKind::relu;
    r.inputs = {name};
    r.output = relu;
    b.add(std::move(r));
    x = relu;
    in_c = v;
    index += 2;
  }
  Graph g = std::move(b.graph());
  g.name = "vgg19 (seeded, to conv5_1)";
  g.meta = torchvision_meta(size);
  return g;
}

// ---- measurement ------------------------------------------------------------------------------

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Forward MACs per image from the input to `layer` (the truncated plan's conv and linear layers).
double layer_macs(const Network& net, const Config& c) {
  const Plan p = net.plan(Shape{1, 3, c.size, c.size}, {c.layer});
  double macs = 0;
  for (const LayerInfo& l : net.describe(p)) macs += double(l.macs);
  return macs;
}

// The sweep's render options, as run_sweep derives them from default SweepSettings.
RenderOptions sweep_render_options(const Config& c, const Args& a, int batch) {
  SweepSettings s;
  s.size = c.size;
  s.steps = a.steps;
  s.precision = a.precision;
  RenderOptions ro = cuviz::render_options(s, a.device);
  ro.batch = batch;
  return ro;
}

// Channels first .. first+n-1, padded to `batch` objectives with repeats of the last one, as
// run_sweep pads a sweep's last batch.
std::vector<Objective> channel_objectives(const Config& c, int first, int n, int batch) {
  std::vector<Objective> out;
  for (int i = 0; i < batch; ++i) out.push_back(channel(c.layer, first + std::min(i, n - 1)));
  return out;
}

struct BatchTiming {
  int images = 0;
  double setup = 0, finish = 0;  // seconds, once per batch
  std::vector<double> step;      // seconds per step, one per repeat
};

// One batch as `cuviz sweep` renders it, steps timed over K and extrapolated by the caller: the
// sweep's one Renderer (made by the caller, whose time is the first batch's setup) restarted with
// this batch's channels (the restart is this batch's setup), padded when n < the batch size.
BatchTiming time_batch(Renderer& r, const RenderOptions& ro, const Config& c, const Args& a, int first, int n,
                       const fs::path& png_dir) {
  BatchTiming bt;
  bt.images = n;
  auto t0 = Clock::now();
  if (first > 0) r.restart(channel_objectives(c, first, n, ro.batch));
  bt.setup = seconds_since(t0);
  int t = 0;
  // One step of render_loop(): Renderer::step (on a GPU a CUDA graph replay after the ReLU-override
  // steps), the objectives read back (a host sync) every progress_every steps.
  auto step = [&] {
    r.step(t < ro.relu_override_steps);
    if (++t % ro.progress_every == 0) r.last_objectives();
  };
  for (int i = 0; i < a.warmup; ++i) step();
  r.last_objectives();
  for (int rep = 0; rep < a.repeats; ++rep) {
    t0 = Clock::now();
    for (int k = 0; k < a.timed; ++k) step();
    r.last_objectives();
    bt.step.push_back(seconds_since(t0) / a.timed);
  }
  // The end of a batch in render() and run_sweep(): objectives without transforms, the images,
  // one PNG per channel.
  t0 = Clock::now();
  r.evaluate(ro.steps, false);
  OwnedTensor images(Shape{ro.batch, 3, c.size, c.size});
  r.images(images);
  for (int i = 0; i < n; ++i)
    write_png((png_dir / cat("c", first + i, ".png")).string(), tensor_to_image(images, i));
  bt.finish = seconds_since(t0);
  return bt;
}

// Seconds per stage of one step, median over the timed steps: the calls of Renderer::gradient
// and Renderer::update made one by one with a device sync after each (GPU stages then do not
// overlap, so their sum can exceed the pipelined step). Wall time and the process's CPU time
// (all threads): on a loaded machine the CPU time is the work, the wall time our share of it.
void profile_step(const Network& net, const Config& c, const Args& a, int n) {
  const RenderOptions o = sweep_render_options(c, a, n);
  ImageParamSpec spec;
  spec.kind = o.param;
  spec.n = n;
  spec.h = spec.w = o.size;
  spec.decay_power = o.decay_power;
  spec.decorrelate = o.decorrelate;
  std::vector<Objective> objectives;
  for (const Objective& obj : channel_objectives(c, 0, n, n)) objectives.push_back(resolve_objective(obj, net.graph()));
  ObjectiveEvaluator eval(objectives, n);
  ImageParam param(spec, o.device);
  const Preprocess pre = Preprocess::from_meta(net.graph().meta);
  OwnedTensor params(spec.param_shape(), o.device), dparams(spec.param_shape(), o.device);
  OwnedTensor image(spec.image_shape(), o.device), dimage(spec.image_shape(), o.device);
  OwnedTensor x(spec.image_shape(), o.device), dx(spec.image_shape(), o.device);
  Adam adam(params.numel(), o.device, o.adam);
  Plan plan = net.plan(image.shape(), eval.layers(), PlanOptions{.backward = true, .precision = o.precision});
  eval.bind(net, plan, o.device);
  param.init(params, o.seed);

  const std::vector<std::string> names = {"param forward (Fourier -> RGB)",
                                          "transforms + preprocessing",
                                          "network forward to the layer",
                                          "objective values + seeds",
                                          "network backward to the input",
                                          "transform adjoint",
                                          "regularizers + param adjoint",
                                          "Adam"};
  std::vector<std::vector<double>> times(names.size()), cpu_times(names.size());
  auto sync = [&] {
    if (o.device == Device::cuda) cuda_rt::synchronize();
  };
  for (int t = 0; t < a.warmup + a.timed; ++t) {
    std::vector<double> st, ct;
    auto stage = [&](auto&& f) {
      const auto t0 = Clock::now();
      const std::clock_t c0 = std::clock();
      f();
      sync();
      st.push_back(seconds_since(t0));
      ct.push_back(double(std::clock() - c0) / CLOCKS_PER_SEC);
    };
    stage([&] { param.forward(params, image); });
    stage([&] { transform_forward(o.transforms, pre, o.seed, uint64_t(t), image, x); });
    stage([&] { net.forward(plan, x); });
    stage([&] {
      eval.compute_values(image);
      eval.seed();
    });
    stage([&] { net.backward_to_input(plan, dx); });
    stage([&] { transform_backward(o.transforms, pre, o.seed, uint64_t(t), dx, dimage); });
    stage([&] {
      eval.add_image_gradients(image, dimage);
      param.backward(image, dimage, dparams);
    });
    stage([&] { adam.step(params, dparams); });
    if (t >= a.warmup)
      for (size_t i = 0; i < st.size(); ++i) {
        times[i].push_back(st[i]);
        cpu_times[i].push_back(ct[i]);
      }
  }
  double total = 0, cpu_total = 0;
  std::vector<double> med, cpu_med;
  for (size_t i = 0; i < names.size(); ++i) {
    total += med.emplace_back(median(times[i]));
    cpu_total += cpu_med.emplace_back(median(cpu_times[i]));
  }
  std::printf("  profile of one step, batch %d, median of %d steps (sync after each stage):\n", n, a.timed);
  std::printf("    %-32s %9s %7s %12s %7s\n", "stage", "wall ms", "", "CPU ms", "");
  for (size_t i = 0; i < names.size(); ++i)
    std::printf("    %-32s %9.2f %6.1f%% %12.2f %6.1f%%\n", names[i].c_str(), med[i] * 1e3, 100 * med[i] / total,
                cpu_med[i] * 1e3, 100 * cpu_med[i] / cpu_total);
  std::printf("    %-32s %9.2f %7s %12.2f\n", "sum", total * 1e3, "", cpu_total * 1e3);
}

// The limit of the conv precision on this device (PERFORMANCE.md's table for an H100 SXM), and
// what it is. The CPU emulates TF32/BF16 with FP32 arithmetic, so its limit stays FP32's.
std::pair<double, std::string> precision_limit(Device d, const std::string& precision) {
  if (d == Device::cpu)
    return {0.2, "CPU limit: OpenBLAS SGEMM on these 2 cores, 200 GFLOP/s (PERFORMANCE.md)"};
  const double tflops = precision == "bf16" ? 790 : precision == "tf32" ? 400 : 60;
  std::string note = cat(precision == "fp32" ? "FP32" : precision == "tf32" ? "TF32" : "BF16", " limit of an H100 SXM, ",
                         tflops, " TFLOP/s (PERFORMANCE.md)");
  const std::string name = cuda_rt::device_name();
  if (name.find("H100") == std::string::npos && name.find("H200") == std::string::npos)
    note += "; this card is a " + name;
  return {tflops, note};
}

// Runs one configuration; returns false when its MACs disagree with PERFORMANCE.md.
bool run_config(const Network& net, const Config& c, const Args& a) {
  const double macs = layer_macs(net, c);
  const double gmacs = macs * 1e-9;
  // The table gives three or four significant figures: agreement to its last digit.
  const bool macs_ok = std::abs(gmacs - c.table_gmacs) <= 0.0006 * c.table_gmacs + 0.0005;
  const Plan probe = net.plan(Shape{1, 3, c.size, c.size}, {c.layer});
  const int layer_c = net.activation(probe, c.layer).c();
  std::printf("%s  %s %s%s%s, %d px, %d channels; forward MACs to the layer %.4f G per image "
              "(PERFORMANCE.md: %.3f G, %s)\n",
              c.id.c_str(), c.model.c_str(), c.layer.c_str(), c.note.empty() ? "" : " = ", c.note.c_str(), c.size,
              layer_c, gmacs, c.table_gmacs, macs_ok ? "agrees" : "DISAGREES");
  if (a.macs_only) return macs_ok;
  CUVIZ_CHECK(layer_c == c.channels, "sweep_bench ", c.id, ": ", c.layer, " has ", layer_c, " channels, PERFORMANCE.md ",
              c.channels);

  const int channels = a.channels > 0 ? std::min(a.channels, layer_c) : layer_c;
  SweepSettings s;
  s.layer = c.layer;
  s.size = c.size;
  s.steps = a.steps;
  const int batch = std::min(a.batch > 0 ? a.batch : auto_sweep_batch(net, s, channels), channels);
  const fs::path png_dir = fs::temp_directory_path() / cat("cuviz_sweep_bench_", ::getpid());
  fs::create_directories(png_dir);

  if (a.profile) profile_step(net, c, a, batch);

  // One Renderer for the sweep, as run_sweep makes it.
  const RenderOptions ro = sweep_render_options(c, a, batch);
  const auto t_setup = Clock::now();
  Renderer renderer(net, channel_objectives(c, 0, batch, batch), ro);
  const double renderer_setup = seconds_since(t_setup);
  std::vector<BatchTiming> batches;
  for (int first = 0; first < channels; first += batch)
    batches.push_back(time_batch(renderer, ro, c, a, first, std::min(batch, channels - first), png_dir));
  batches.front().setup += renderer_setup;
  fs::remove_all(png_dir);

  // Per batch, the median (and the best) step; a sweep's steps cost the sum over its batches.
  double step_med = 0, step_best = 0, setup = 0, finish = 0;
  for (const BatchTiming& b : batches) {
    step_med += median(b.step);
    step_best += *std::min_element(b.step.begin(), b.step.end());
    setup += b.setup;
    finish += b.finish;
  }
  const double ips = channels / step_med, ips_best = channels / step_best;
  const double sweep_seconds = setup + a.steps * step_med + finish;
  const double tflops = ips * 4 * macs * 1e-12, tflops_best = ips_best * 4 * macs * 1e-12;
  const auto [limit, limit_note] = precision_limit(a.device, a.precision);
  const std::string dev =
      a.device == Device::cuda ? std::string(cuda_rt::device_name()) : cat("cpu (", omp_get_max_threads(), " threads)");

  std::printf("    %s; conv precision %s; %d channels in %zu batch(es) of %d; %d warm-up + %d x %d timed steps "
              "per batch\n",
              dev.c_str(), a.precision.c_str(), channels, batches.size(), batch, a.warmup, a.repeats, a.timed);
  std::printf("    step (all batches)   %10.2f ms median, %10.2f ms best\n", step_med * 1e3, step_best * 1e3);
  std::printf("    image-steps/s        %10.2f median, %10.2f best\n", ips, ips_best);
  std::printf("    channels/s at %d steps: %.4f (steps only, as the PyTorch baseline counts), %.4f end to end "
              "(setup %.2f s + finish and PNGs %.2f s over all batches)\n",
              a.steps, ips / a.steps, channels / sweep_seconds, setup, finish);
  std::printf("    achieved             %10.4f TFLOP/s median (%.4f best) = %.1f %% of the limit (%.1f %% best); %s\n",
              tflops, tflops_best, 100 * tflops / limit, 100 * tflops_best / limit, limit_note.c_str());
  const nlohmann::json j = {
      {"config", c.id},
      {"model", c.model},
      {"layer", c.layer},
      {"size", c.size},
      {"device", dev},
      {"channels", channels},
      {"batch", batch},
      {"batches", batches.size()},
      {"steps", a.steps},
      {"precision", a.precision},
      {"warmup", a.warmup},
      {"timed_steps", a.timed},
      {"repeats", a.repeats},
      {"step_seconds_median", step_med},
      {"step_seconds_best", step_best},
      {"image_steps_per_s", ips},
      {"image_steps_per_s_best", ips_best},
      {"channels_per_s_at_512_steps", ips / a.steps},
      {"channels_per_s_end_to_end", channels / sweep_seconds},
      {"setup_seconds", setup},
      {"finish_seconds", finish},
      {"gmacs_per_image", gmacs},
      {"gmacs_table", c.table_gmacs},
      {"tflops", tflops},
      {"tflops_best", tflops_best},
      {"limit_tflops", limit},
      {"percent_of_limit", 100 * tflops / limit},
  };
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  return macs_ok;
}

int run(const Args& a) {
  std::map<std::string, std::unique_ptr<Network>> nets;  // googlenet once for S1-S3
  bool ok = true;
  for (const Config& c : configs()) {
    if (a.config != "all" && a.config != c.id) continue;
    std::string key = c.model == "vgg19" ? cat("vgg19/", c.size) : c.model;
    if (!nets.count(key)) {
      nets.clear();  // one network on the device at a time
      Graph g = c.model == "vgg19" ? vgg19_to_conv5_1(c.size) : load_model(c.model, ModelFormat::caffe);
      nets[key] = std::make_unique<Network>(std::move(g), a.device);
    }
    ok = run_config(*nets[key], c, a) && ok;
  }
  if (!ok) std::fprintf(stderr, "sweep_bench: the MACs of some configuration disagree with PERFORMANCE.md\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace cuviz

int main(int argc, char** argv) {
  const cuviz::Args args = cuviz::parse_args(argc, argv);
  // The shared weights, unless the caller chose a model path.
  setenv("CUVIZ_MODEL_PATH", CUVIZ_SHARED_DIR "/weights", 0);
  try {
    return cuviz::run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sweep_bench: %s\n", e.what());
    return 1;
  }
}
