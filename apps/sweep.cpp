// `cuviz sweep MODEL --layer NAME -o DIR`: render every requested channel of a layer (many
// channels per batch), write channels/<layer>_<c>.png, contact_sheet.png, index.html and
// manifest.json, and resume where an earlier run with the same settings stopped.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/common.h"
#include "apps/profile.h"
#include "loaders/model.h"
#include "nn/network.h"
#include "viz/sweep.h"

namespace cuviz::app {

namespace {

struct SweepCliOptions {
  ModelOptions model;
  std::string layer, channels, batch = "auto", out, device = "auto", backend = "native";
  SweepSettings settings;
  bool overwrite = false, quiet = false, no_cuda_graph = false;
  int profile = 0;
};

std::string format_seconds(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int t = int(s + 0.5);
  if (t >= 3600) return cat(t / 3600, "h", (t / 60) % 60 < 10 ? "0" : "", (t / 60) % 60, "m");
  if (t >= 60) return cat(t / 60, "m", t % 60 < 10 ? "0" : "", t % 60, "s");
  return cat(t, "s");
}

// One progress line: redrawn in place on a terminal, printed at most every 5 s otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(bool quiet) : quiet_(quiet), tty_(::isatty(2)) {}
  void update(const SweepProgress& p) {
    if (quiet_) return;
    const bool final = p.done == p.total && p.batch_step == 0;
    if (!tty_ && !final && p.seconds - last_ < 5.0 && p.seconds > 0) return;
    last_ = p.seconds;
    const double frac = p.total ? (p.done + double(p.batch_size) * p.batch_step / std::max(1, p.batch_steps)) / p.total : 1;
    const int width = 24, fill = int(frac * width + 0.5);
    std::string bar(size_t(fill), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%s[%s] %d/%d channels  %.2f ch/s  %.1f image-steps/s  ETA %s%s", tty_ ? "\r" : "", bar.c_str(),
                 p.done, p.total, p.channels_per_s, p.image_steps_per_s, format_seconds(p.eta_seconds).c_str(),
                 tty_ ? "   " : "\n");
    if (tty_ && final) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool quiet_, tty_;
  double last_ = -1e9;
};

// --profile: the first batch of the sweep (the requested channels, --batch of them), as run_sweep
// would render it, without touching the output directory.
void profile_sweep(const Network& net, const SweepSettings& s, const SweepOptions& so, int steps) {
  std::vector<int> channels = so.channels;
  if (channels.empty()) {
    const Plan plan = net.plan(Shape{1, 3, s.size, s.size}, {s.layer});
    for (int c = 0; c < net.activation(plan, s.layer).c(); ++c) channels.push_back(c);
  }
  const int batch = so.batch > 0 ? so.batch : auto_sweep_batch(net, s, int(channels.size()));
  std::vector<Objective> objectives;
  for (int i = 0; i < std::min<int>(batch, int(channels.size())); ++i)
    objectives.push_back(s.objective == "channel" ? channel(s.layer, channels[size_t(i)])
                                                  : neuron(s.layer, channels[size_t(i)]));
  RenderOptions ro = sweep_render_options(s, net.device());
  ro.batch = int(objectives.size());
  ro.cuda_graph = so.cuda_graph;
  profile_render(net, objectives, ro, steps);
}

void run_sweep_command(SweepCliOptions& o) {
  CUVIZ_CHECK(!o.out.empty() || o.profile > 0, "sweep: -o DIR is required");
  check_precision(parse_precision(o.settings.precision), parse_backend(o.backend));
  Graph graph = load_model(o.model);
  o.settings.model = o.model.model;
  const ModelFiles files = resolve_model(o.model.model, parse_model_format(o.model.format));
  o.settings.model_file = std::filesystem::absolute(files.weights_file()).lexically_normal().string();
  o.settings.layer = o.layer;
  SweepOptions so;
  so.settings = o.settings;
  so.channels = o.channels.empty() ? std::vector<int>{} : parse_channel_list(o.channels);
  so.overwrite = o.overwrite;
  so.cuda_graph = !o.no_cuda_graph;
  so.dir = o.out;
  if (o.batch != "auto") {
    char* end = nullptr;
    const long b = std::strtol(o.batch.c_str(), &end, 10);
    CUVIZ_CHECK(*end == '\0' && b >= 1 && b <= 4096, "sweep: --batch must be auto or a number 1-4096, not '", o.batch,
                "'");
    so.batch = int(b);
  }
  const Network net = make_network(std::move(graph), o.device, o.backend);
  print_device_notice();
  if (o.profile > 0) return profile_sweep(net, o.settings, so, o.profile);
  ProgressBar bar(o.quiet);
  const SweepManifest m = run_sweep(net, so, [&](const SweepProgress& p) { bar.update(p); });
  std::fprintf(stderr, "%zu channels of %s in %s (%s, %.1f s rendering in all)\n", m.channels.size(), o.layer.c_str(),
               o.out.c_str(), m.device.c_str(), m.render_seconds);
  std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(o.out) / "index.html").lexically_normal().c_str());
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto o = std::make_shared<SweepCliOptions>();
  CLI::App* cmd = app.add_subcommand("sweep", "Render every channel of a layer into a browsable gallery (resumable)");
  add_model_options(cmd, o->model);
  cmd->add_option("--layer", o->layer, "Layer (blob) to sweep, e.g. inception_4a/output")->required();
  cmd->add_option("--channels", o->channels, "Channels: 0-511, 7, or 1,5,9-12 (default: all)");
  cmd->add_option("--size", o->settings.size, "Image size in pixels")->capture_default_str()->check(CLI::Range(8, 4096));
  cmd->add_option("--steps", o->settings.steps, "Optimisation steps per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--batch", o->batch, "Channels per batch: auto (from memory) or a number")->capture_default_str();
  cmd->add_option("--objective", o->settings.objective, "channel (spatial mean) or neuron (centre position)")
      ->capture_default_str()
      ->check(CLI::IsMember({"channel", "neuron"}));
  cmd->add_option("--param", o->settings.param, "Image parameterization: fourier or pixel")
      ->capture_default_str()
      ->check(CLI::IsMember({"fourier", "pixel"}));
  cmd->add_option("--transforms", o->settings.transforms, "standard (Lucid's) or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"standard", "none"}));
  cmd->add_option("--lr", o->settings.lr, "Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->settings.seed, "Random seed")->capture_default_str();
  cmd->add_option("--relu-override", o->settings.relu_override,
                  "Steps at the start with Lucid's ReLU gradient override (0 = off; revives channels dead on grey)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  add_precision_option(cmd, o->settings.precision);
  add_device_option(cmd, o->device);
  add_backend_option(cmd, o->backend);
  add_profile_option(cmd, o->profile);
  cmd->add_option("-o,--out", o->out, "Output directory; required unless --profile");
  cmd->add_flag("--overwrite", o->overwrite, "Start afresh when DIR holds a sweep with other settings");
  cmd->add_flag("--no-cuda-graph", o->no_cuda_graph,
                "GPU: launch every kernel of every step instead of replaying one CUDA graph per step (profiling)");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
  return {cmd, [o] { run_sweep_command(*o); }};
}

}  // namespace cuviz::app
