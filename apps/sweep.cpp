// `cuviz sweep MODEL --layer NAME -o DIR`: render every requested channel of a layer (many
// channels per batch), write channels/<layer>_<c>.png, contact_sheet.png, index.html and
// manifest.json, and resume where an earlier run with the same settings stopped.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "apps/common.h"
#include "apps/profile.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "core/interrupt.h"
#include "loaders/model.h"
#include "nn/network.h"
#include "viz/sweep.h"

namespace cuviz::app {

namespace {

// Everything `cuviz sweep` is given: what to render (the settings, recorded in the manifest), which
// channels and how many at once (a rerun may ask for others), how to run, and where to write.
struct SweepCommand {
  ModelOptions model;
  SweepSettings settings;
  RunOptions run;
  std::string channels, batch = "auto", out;
  bool overwrite = false;
};

// --batch auto|N: 0 for auto.
int parse_batch(const std::string& text) {
  if (text == "auto") return 0;
  char* end = nullptr;
  const long b = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || b < 1 || b > 4096)
    throw Error(cat("'", text, "' is neither auto nor a number 1-4096"));
  return int(b);
}

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
  RenderOptions ro = render_options(s, net.device());
  ro.batch = int(objectives.size());
  ro.cuda_graph = so.cuda_graph;
  profile_render(net, objectives, ro, steps);
}

void run_sweep_command(SweepCommand& o) {
  usage_check(!o.out.empty() || o.run.profile > 0, "sweep: -o DIR is required (unless --profile)");
  check_precision_backend(o.settings.precision, o.run.backend);
  Graph graph = load_model(o.model);
  o.settings.model = o.model.model;
  const ModelFiles files = resolve_model(o.model.model, parse_model_format(o.model.format));
  o.settings.model_file = std::filesystem::absolute(files.weights_file()).lexically_normal().string();
  SweepOptions so;
  so.settings = o.settings;
  so.channels = o.channels.empty() ? std::vector<int>{} : parse_channel_list(o.channels);
  so.batch = parse_batch(o.batch);
  so.overwrite = o.overwrite;
  so.cuda_graph = !o.run.no_cuda_graph;
  so.dir = o.out;
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();
  if (o.run.profile > 0) return profile_sweep(net, o.settings, so, o.run.profile);
  ProgressBar bar(o.run.quiet);
  const SweepManifest m = run_sweep(net, so, [&](const SweepProgress& p) {
    // Fraction of the requested channels, counting the batch in flight by its steps.
    const double in_flight = double(p.batch_size) * p.batch_step / std::max(1, p.batch_steps);
    bar.update(p.total ? (p.done + in_flight) / p.total : 1.0,
               cat(p.done, "/", p.total, " channels  ", std::round(p.channels_per_s * 100) / 100, " ch/s  ",
                   std::round(p.image_steps_per_s * 10) / 10, " image-steps/s  ETA ", format_seconds(p.eta_seconds)),
               p.done == p.total && p.batch_step == 0);
  });
  std::fprintf(stderr, "%zu channels of %s in %s (%s, %.1f s rendering in all)\n", m.channels.size(),
               o.settings.layer.c_str(), o.out.c_str(), m.device.c_str(), m.render_seconds);
  std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(o.out) / "index.html").lexically_normal().c_str());
}

// Ctrl-C or SIGTERM during the sweep (core/interrupt.h): the folder is as after the last
// finished batch; main.cpp prints this with the command that resumes it.
void run_sweep_command_interruptible(SweepCommand& o) {
  try {
    run_sweep_command(o);
  } catch (const Interrupted& e) {
    std::optional<SweepManifest> m;
    try {
      m = SweepManifest::load(o.out);
    } catch (const Error&) {
    }
    const std::string kept =
        m && !m->channels.empty()
            ? cat(m->channels.size(), " of ", m->total_channels, " channels are done in ", o.out,
                  " (manifest.json and index.html list them; the batch in flight was abandoned)")
            : cat("no channel is done yet in ", o.out, " (the batch in flight was abandoned)");
    throw Interrupted(e.signal(), kept, true);
  }
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto o = std::make_shared<SweepCommand>();
  CLI::App* cmd = app.add_subcommand("sweep", "Render every channel of a layer into a browsable gallery (resumable)");
  add_model_options(cmd, o->model);
  add_settings_options(cmd, o->settings);
  cmd->add_option("--channels", o->channels, "Channels: 0-511, 7, or 1,5,9-12 (default: all)")
      ->check(parses_with([](const std::string& t) { parse_channel_list(t); }));
  cmd->add_option("--batch", o->batch, "Channels per batch: auto (from memory) or a number 1-4096")
      ->capture_default_str()
      ->check(parses_with(parse_batch));
  cmd->add_option("-o,--out", o->out, "Output directory; required unless --profile");
  cmd->add_flag("--overwrite", o->overwrite, "Start afresh when DIR holds a sweep with other settings");
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_sweep_command_interruptible(*o); }};
}

}  // namespace cuviz::app
