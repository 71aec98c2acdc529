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
#include "apps/mpi_world.h"
#include "apps/profile.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "apps/sweep_devices.h"
#include "core/cuda_runtime.h"
#include "core/interrupt.h"
#include "loaders/model.h"
#include "nn/network.h"
#include "viz/sweep.h"
#include "viz/sweep_shard.h"

namespace cuviz::app {

namespace {

// Everything `cuviz sweep` is given: what to render (the settings, recorded in the manifest), which
// channels and how many at once (a rerun may ask for others), how to run, and where to write.
struct SweepCommand {
  ModelOptions model;
  SweepSettings settings;
  RunOptions run;
  std::string channels, batch = "auto", out;
  std::string shard;  // --shard i/N (docs/sweep.md "Beyond one process"); empty: from MPI or Slurm, if any
  std::string devices;           // --devices 0,1|all|cpu,cpu: one worker process per device
  std::string worker, claims;    // hidden: what --devices gives each worker process
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
void profile_sweep(const Network& net, const SweepSettings& s, const SweepOptions& so, const RunOptions& run) {
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
  profile_render(net, objectives, ro, profile_request("sweep", run));
}

// The shard to render: --shard i/N, else rank r of N under an MPI launcher, else the one
// Slurm's environment gives (both said on stderr), else none (the single-process sweep).
std::optional<ShardSpec> sweep_shard(const std::string& flag, std::optional<MpiWorld>& mpi) {
  if (!flag.empty()) return parse_shard(flag);
  mpi = mpi_world();
  if (mpi && mpi->size > 1) {
    std::fprintf(stderr, "sweep: shard %d/%d from the MPI rank\n", mpi->rank, mpi->size);
    return ShardSpec{mpi->rank, mpi->size};
  }
  mpi.reset();
  std::string source;
  const auto s = shard_from_environment([](const char* name) { return std::getenv(name); }, &source);
  if (s) std::fprintf(stderr, "sweep: shard %s from the Slurm environment (%s)\n", s->label().c_str(), source.c_str());
  return s;
}

// `--shard`: this shard's batches into DIR (channels/ and shards/); the gallery is `gallery merge`'s.
void run_shard_command(const Network& net, const SweepOptions& so, const ShardSpec& shard, bool quiet,
                       bool print_path) {
  ProgressBar bar(quiet);
  const ShardManifest m = run_shard_sweep(net, so, shard, [&](const SweepProgress& p) {
    const double in_flight = double(p.batch_size) * p.batch_step / std::max(1, p.batch_steps);
    bar.update(p.total ? (p.done + in_flight) / p.total : 1.0,
               cat("shard ", shard.label(), "  ", p.done, "/", p.total, " channels  ",
                   std::round(p.channels_per_s * 100) / 100, " ch/s  ETA ", format_seconds(p.eta_seconds)),
               p.done == p.total && p.batch_step == 0);
  });
  std::fprintf(stderr, "shard %s: %zu channels of %s in %s (%s)%s\n", shard.label().c_str(), m.sweep.channels.size(),
               so.settings.layer.c_str(), so.dir.c_str(), m.sweep.device.c_str(),
               print_path ? cat("; when every shard is done: cuviz gallery merge ", so.dir).c_str() : "");
  if (print_path)
    std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(so.dir) / shard_manifest_file(shard))
                            .lexically_normal()
                            .c_str());
}

// Under MPI: every rank renders its shard; rank 0 merges once all have (MPI_Barrier). An error on
// any rank is reported there and ends the whole job (MPI_Abort), so none waits for ever; a rerun
// of the same mpirun resumes every shard.
void run_mpi_sweep(const Network& net, const SweepOptions& so, const ShardSpec& shard, bool quiet) {
  try {
    run_shard_command(net, so, shard, quiet, false);
    mpi_barrier();
    if (shard.index != 0) return;
    const MergeResult r = merge_sweep_shards(so.dir, so.thumb);
    CUVIZ_CHECK(r.missing.empty(), "sweep: ", r.missing.size(), " channels missing after every rank finished: ",
                format_channel_list(r.missing));
    std::fprintf(stderr, "sweep: merged %zu channels from %d shard manifests into %s\n", r.manifest.channels.size(),
                 r.shards, so.dir.c_str());
    std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(so.dir) / "index.html").lexically_normal().c_str());
  } catch (const std::exception& e) {
    report_error(cat("rank ", shard.index, ": ", e.what()), kExitFailure);
    mpi_abort(kExitFailure);
  }
}

// --devices: the workers, then the merge (as rank 0 does under MPI).
void run_devices_command(const Network& net, const SweepOptions& so, const SweepCommand& o) {
  usage_check(o.shard.empty(), "sweep: --devices and --shard do not go together (a shard runs on one device)");
  std::string notice;
  const std::vector<DeviceWorker> workers = parse_devices(o.devices, cuda_rt::device_count(), &notice);
  if (!notice.empty()) std::fprintf(stderr, "cuviz: %s\n", notice.c_str());
  check_settings(so.settings);
  std::vector<int> channels = so.channels;
  const Plan plan = net.plan(Shape{1, 3, so.settings.size, so.settings.size}, {so.settings.layer});
  const int layer_c = net.activation(plan, so.settings.layer).c();
  if (channels.empty())
    for (int c = 0; c < layer_c; ++c) channels.push_back(c);
  for (int c : channels)
    CUVIZ_CHECK(c >= 0 && c < layer_c, "sweep: channel ", c, " out of range: ", so.settings.layer, " has ", layer_c,
                " channels (0-", layer_c - 1, ")");
  run_device_workers(workers, own_arguments(), so, channels, o.run.quiet);
  const MergeResult r = merge_sweep_shards(so.dir, so.thumb);
  CUVIZ_CHECK(r.missing.empty(), "sweep: ", r.missing.size(), " channels missing after every worker finished: ",
              format_channel_list(r.missing));
  std::fprintf(stderr, "sweep: %zu channels of %s in %s (%s, %.1f s rendering in all)\n", r.manifest.channels.size(),
               so.settings.layer.c_str(), so.dir.c_str(), r.manifest.device.c_str(), r.manifest.render_seconds);
  std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(so.dir) / "index.html").lexically_normal().c_str());
}

// --layer a,b,c | all: one sweep per layer in DIR/<layer>/, sharded over the layers' batches
// together when a shard is given (or comes from MPI or Slurm).
void run_layers_command(const Network& net, const SweepOptions& so, const SweepCommand& o) {
  usage_check(o.devices.empty() && o.worker.empty(), "sweep: --devices sweeps one layer at a time");
  const std::vector<LayerLayout> layout = multi_layer_layout(net, so, sweep_layer_names(net, so.settings.layer));
  size_t total = 0;
  for (const auto& l : layout) total += l.channels.size();
  std::fprintf(stderr, "sweep: %zu layers, %zu channels\n", layout.size(), total);
  ProgressBar bar(o.run.quiet);
  auto show = [&](const std::string& what, const SweepProgress& p) {
    const double in_flight = double(p.batch_size) * p.batch_step / std::max(1, p.batch_steps);
    bar.update(p.total ? (p.done + in_flight) / p.total : 1.0, cat(what, "  ", p.done, "/", p.total, " channels"));
  };
  std::optional<MpiWorld> mpi;
  const auto shard = sweep_shard(o.shard, mpi);
  if (!shard) {
    run_multi_layer_sweep(net, so, layout, [&](size_t i, const SweepProgress& p) {
      show(cat("layer ", i + 1, "/", layout.size(), " ", layout[i].layer), p);
    });
    bar.update(1.0, cat(total, " channels of ", layout.size(), " layers"), true);
    std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(so.dir) / "index.html").lexically_normal().c_str());
    return;
  }
  try {
    const int n = run_multi_layer_shard(net, so, layout, *shard, [&](const SweepProgress& p) { show(cat("shard ", shard->label()), p); });
    bar.update(1.0, cat("shard ", shard->label(), ": ", n, " channels"), true);
    if (!mpi) {
      std::fprintf(stderr, "shard %s: %d channels of %zu layers in %s; when every shard is done: cuviz gallery merge %s\n",
                   shard->label().c_str(), n, layout.size(), so.dir.c_str(), so.dir.c_str());
      return;
    }
    mpi_barrier();
    if (shard->index != 0) return;
    const MultiMergeResult r = merge_multi_layer(so.dir, so.thumb);
    CUVIZ_CHECK(r.missing.empty(), "sweep: channels of ", r.missing.size(), " layers missing after every rank finished");
    std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(so.dir) / "index.html").lexically_normal().c_str());
  } catch (const std::exception& e) {
    if (!mpi) throw;
    report_error(cat("rank ", shard->index, ": ", e.what()), kExitFailure);
    mpi_abort(kExitFailure);
  }
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
  if (o.run.profile > 0) return profile_sweep(net, o.settings, so, o.run);
  if (o.settings.layer == "all" || o.settings.layer.find(',') != std::string::npos)
    return run_layers_command(net, so, o);
  if (!o.worker.empty()) {  // one of --devices' workers
    usage_check(!o.claims.empty(), "sweep: --worker needs --claims");
    run_worker_sweep(net, so, parse_shard(o.worker), o.claims);
    return;
  }
  if (!o.devices.empty()) return run_devices_command(net, so, o);
  std::optional<MpiWorld> mpi;
  if (const auto shard = sweep_shard(o.shard, mpi))
    return mpi ? run_mpi_sweep(net, so, *shard, o.run.quiet) : run_shard_command(net, so, *shard, o.run.quiet, true);
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
        : std::filesystem::exists(std::filesystem::path(o.out) / "shards")
            ? cat("the finished batches are kept in ", o.out, " (shard manifests in shards/; the batch in flight was abandoned)")
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
  cmd->add_option("--shard", o->shard,
                  "Render shard i of N (0-based: 0/4 .. 3/4) into DIR, then `cuviz gallery merge DIR`; "
                  "default: the MPI rank under mpirun, else SLURM_ARRAY_TASK_* or SLURM_PROCID/SLURM_NTASKS when set")
      ->check(parses_with([](const std::string& t) { parse_shard(t); }));
  cmd->add_option("--devices", o->devices,
                  "One worker process per device, handing out batches dynamically: GPU numbers (0,1,2), all, or "
                  "cpu entries (cpu,cpu); then the gallery as a single-process sweep's; without a GPU, one CPU worker")
      ->check(parses_with([](const std::string& t) { parse_devices(t, 0); }));
  cmd->add_option("--worker", o->worker)->group("");  // set by --devices for its workers
  cmd->add_option("--claims", o->claims)->group("");
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_sweep_command_interruptible(*o); }};
}

}  // namespace cuviz::app
