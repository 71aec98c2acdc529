// `cuviz info MODEL [--size N]`: the layer table of a model at an input size (name, type, output
// shape, parameters, multiply-accumulates per image) and the totals. Counts come from
// Network::describe, which takes each kind's MACs from the op table (nn/layer_ops.cpp: conv =
// output elements * in_channels / groups * kh * kw, linear = in * out).
#include <cinttypes>
#include <cstdio>
#include <memory>

#include "apps/common.h"
#include "loaders/model.h"
#include "nn/network.h"

namespace cuviz::app {

namespace {

struct InfoOptions {
  ModelOptions model;
  int size = 0;
};

void run_info(const InfoOptions& o) {
  Graph graph = load_model(o.model);
  const int size = o.size > 0 ? o.size : graph.meta.input_size;
  CUVIZ_CHECK(size > 0, "info: model ", graph.name, " declares no input size; pass --size N");
  const int channels = graph.input_shape.c > 0 ? graph.input_shape.c : 3;
  const std::string name = graph.name;
  // Planning computes every shape and sizes the arena; nothing runs, so the CPU is enough.
  const Network net(std::move(graph), Device::cpu);
  const Plan plan = net.plan(Shape{1, channels, size, size});
  const auto rows = net.describe(plan);

  std::printf("%s, input %s\n\n", name.c_str(), plan.input_shape().str().c_str());
  std::printf("%-36s %-8s %-20s %12s %15s\n", "layer", "type", "output", "params", "MACs");
  int64_t params = 0, macs = 0;
  for (const auto& r : rows) {
    std::printf("%-36s %-8s %-20s %12" PRId64 " %15" PRId64 "\n", r.name.c_str(), r.type.c_str(),
                r.output.str().c_str(), r.params, r.macs);
    params += r.params;
    macs += r.macs;
  }
  std::printf("%-36s %-8s %-20s %12" PRId64 " %15" PRId64 "\n\n", "total", "", "", params, macs);
  std::printf("%zu layers, %.3f M params, %.3f G MACs per image at %dx%d\n", rows.size(), params / 1e6, macs / 1e9,
              size, size);
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Layer table of a model: output shapes, parameters, MACs");
  add_model_options(cmd, o->model);
  cmd->add_option("--size", o->size, "Square input size (default: the model's, e.g. 224)")
      ->check(CLI::Range(1, 16384));
  return {cmd, [o] { run_info(*o); }};
}

}  // namespace cuviz::app
