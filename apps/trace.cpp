// `cuviz trace MODEL IMAGE|--noise --objective EXPR -o DIR`: follows one backward pass from the
// objective to the pixels (viz/trace.h) and writes DIR/index.html with one row per value on the
// way (forward statistics, gradient norm, the gradient map summed over channels), the pictures
// under DIR/grad/, DIR/summary.png (the trunk's maps) and DIR/trace.json (settings and numbers).
// The page is written into a temporary directory and renamed at the end: no partial page.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/settings_cli.h"
#include "io/image.h"
#include "nn/network.h"
#include "viz/fourier_param.h"
#include "viz/image_source.h"
#include "viz/objective.h"
#include "viz/trace.h"

namespace cuviz::app {

namespace {

struct TraceCommand {
  ModelOptions model;
  std::string device = "auto", backend = "native";
  std::string image, objective, out;
  bool noise = false;
  float noise_amplitude = 0.1f;
  int size = 0;  // 0: the model's input size
  uint64_t seed = 0;
};

void run_trace(const TraceCommand& o) {
  usage_check(o.noise != !o.image.empty(), "trace: give an IMAGE or --noise (one of them)");
  const Objective objective = parse_objective(o.objective);
  if (!o.noise && !is_npy_path(o.image)) read_image(o.image);  // an unreadable photo fails before the model loads
  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const Network net = make_network(std::move(graph), o.device, o.backend);
  print_device_notice();
  const ModelMeta& meta = net.graph().meta;
  const int size = o.size > 0 ? o.size : meta.input_size;

  OwnedTensor x(Shape{1, 3, size, size});
  ImageSource source = o.noise ? ImageSource::parse("noise") : ImageSource::parse(o.image);
  source.noise_amplitude = o.noise_amplitude;
  if (o.noise) {
    ImageParamSpec spec;
    spec.kind = ParamKind::input;
    spec.h = spec.w = size;
    init_params(source, spec, meta, o.seed, x);  // the network input of uniform noise around grey
  } else {
    copy(load_network_input(o.image, meta, 1, size), x);
  }

  const TraceResult r = trace_backward(net, objective, x);
  TracePageInfo info;
  info.model = model_name;
  info.objective = o.objective;
  info.input = o.noise ? source.str() : o.image;
  info.size = size;
  info.seed = o.seed;
  info.device = device_name(net.device());
  write_trace_page(o.out, r, info);
  std::printf("%s: objective %.6g, %zu values traced back to the input -> %s\n", o.objective.c_str(), r.objective,
              r.steps.size(),
              (std::filesystem::absolute(std::filesystem::path(o.out)) / "index.html").lexically_normal().c_str());
  if (r.steps.back().grad_norm == 0)
    std::printf("note: no gradient reaches the input: every path from the objective is cut by a ReLU that is off "
                "(or a max pool it loses); try a photo, another channel or a larger --size\n");
}

}  // namespace

Command add_trace_command(CLI::App& app) {
  auto o = std::make_shared<TraceCommand>();
  CLI::App* cmd = app.add_subcommand(
      "trace", "Follow one backward pass from an objective to the pixels: a page with every layer's gradient");
  add_model_options(cmd, o->model);
  cmd->add_option("image", o->image, "The photo (PNG or JPEG), centre-cropped and resized to --size, or an .npy network input {1, 3, S, S}");
  cmd->add_flag("--noise", o->noise, "Start from uniform noise around grey instead of a photo");
  cmd->add_option("--noise-amplitude", o->noise_amplitude, "Noise pixels are uniform in 0.5 +- this")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  // An expression that does not parse is a usage error (exit 2); an unknown layer is a failure at
  // run time (exit 1), once the network is loaded.
  cmd->add_option("--objective", o->objective, "The objective, e.g. \"inception_4c/output:10\" (docs/cli.md)")
      ->required()
      ->check(parses_with(parse_objective));
  cmd->add_option("--size", o->size, "Input size in pixels (default: the model's input size)")
      ->check(CLI::Range(16, 4096));
  cmd->add_option("--seed", o->seed, "Seed of the noise")->capture_default_str();
  cmd->add_option("-o,--out", o->out, "Output directory (index.html, grad/*.png, summary.png, trace.json)")
      ->required();
  add_device_option(cmd, o->device);
  add_backend_option(cmd, o->backend);
  return {cmd, [o] { run_trace(*o); }};
}

}  // namespace cuviz::app
