// Sharded sweeps: the layout (global batches, balanced contiguous shares), the Slurm
// environment, the shard loop (one Renderer per shard, the batches of its share, PNGs then the
// shard manifest after every batch) and the merge into one gallery.
#include "viz/sweep_shard.h"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "core/cuda_runtime.h"
#include "core/interrupt.h"
#include "io/atomic_file.h"
#include "io/html.h"
#include "io/image.h"
#include "viz/objective.h"

namespace cuviz {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ShardSpec::label() const { return cat(index, "/", count); }

namespace {

// A whole non-negative decimal number below 2^31, or nullopt.
std::optional<long> parse_count(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (*end != '\0' || errno != 0 || v < 0 || v > 0x7fffffffL) return std::nullopt;
  return v;
}

}  // namespace

ShardSpec parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  const auto i = slash == std::string::npos ? std::nullopt : parse_count(text.substr(0, slash).c_str());
  const auto n = slash == std::string::npos ? std::nullopt : parse_count(text.substr(slash + 1).c_str());
  CUVIZ_CHECK(i && n, "shard '", text, "': expected i/N with whole numbers, e.g. 0/4 (shards are numbered from 0)");
  CUVIZ_CHECK(*n >= 1 && *n <= 65536, "shard '", text, "': N must be 1-65536");
  CUVIZ_CHECK(*i < *n, "shard '", text, "': i must be 0-", *n - 1, " (shards are numbered from 0)");
  return {int(*i), int(*n)};
}

std::optional<ShardSpec> shard_from_environment(const std::function<const char*(const char*)>& getenv_fn,
                                                std::string* source) {
  auto number = [&](const char* name) -> std::optional<long> {
    const char* v = getenv_fn(name);
    if (v == nullptr) return std::nullopt;
    const auto n = parse_count(v);
    CUVIZ_CHECK(n.has_value(), "$", name, "='", v, "' is not a whole number");
    return n;
  };
  if (const auto count = number("SLURM_ARRAY_TASK_COUNT"); count && *count > 1) {
    const auto id = number("SLURM_ARRAY_TASK_ID"), min = number("SLURM_ARRAY_TASK_MIN");
    const auto step = number("SLURM_ARRAY_TASK_STEP");
    CUVIZ_CHECK(id && min, "Slurm array job without SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_MIN: give --shard i/N");
    const long st = step ? *step : 1;
    CUVIZ_CHECK(st >= 1 && *id >= *min && (*id - *min) % st == 0 && (*id - *min) / st < *count,
                "Slurm array task ", *id, " (min ", *min, ", step ", st, ", count ", *count,
                ") does not map onto shards 0-", *count - 1, " (an array like --array=1,5,6?): give --shard i/N");
    CUVIZ_CHECK(*count <= 65536, "SLURM_ARRAY_TASK_COUNT=", *count, ": at most 65536 shards");
    if (source)
      *source = cat("SLURM_ARRAY_TASK_ID=", *id, " SLURM_ARRAY_TASK_MIN=", *min, step ? cat(" SLURM_ARRAY_TASK_STEP=", st) : "",
                    " SLURM_ARRAY_TASK_COUNT=", *count);
    return ShardSpec{int((*id - *min) / st), int(*count)};
  }
  if (const auto ntasks = number("SLURM_NTASKS"); ntasks && *ntasks > 1) {
    const auto procid = number("SLURM_PROCID");
    CUVIZ_CHECK(procid && *procid < *ntasks, "SLURM_NTASKS=", *ntasks, " without a SLURM_PROCID below it: give --shard i/N");
    CUVIZ_CHECK(*ntasks <= 65536, "SLURM_NTASKS=", *ntasks, ": at most 65536 shards");
    if (source) *source = cat("SLURM_PROCID=", *procid, " SLURM_NTASKS=", *ntasks);
    return ShardSpec{int(*procid), int(*ntasks)};
  }
  return std::nullopt;
}

std::vector<std::vector<int>> sweep_batches(const std::vector<int>& channels, int batch) {
  CUVIZ_CHECK(batch >= 1, "sweep: batch must be at least 1");
  std::vector<std::vector<int>> out;
  for (size_t first = 0; first < channels.size(); first += size_t(batch))
    out.emplace_back(channels.begin() + long(first),
                     channels.begin() + long(std::min(channels.size(), first + size_t(batch))));
  return out;
}

std::pair<size_t, size_t> shard_batch_range(size_t batches, const ShardSpec& s) {
  // floor(i K / N) in 64 bits: K < 2^24 channels, N <= 65536.
  const auto edge = [&](int i) { return size_t(uint64_t(i) * batches / uint64_t(s.count)); };
  return {edge(s.index), edge(s.index + 1)};
}

std::string shard_manifest_file(const ShardSpec& s, bool dynamic) {
  return cat("shards/", dynamic ? "device-" : "shard-", s.index, "-of-", s.count, ".json");
}

std::string format_channel_list(const std::vector<int>& channels) {
  std::string out;
  for (size_t i = 0; i < channels.size();) {
    size_t j = i;
    while (j + 1 < channels.size() && channels[j + 1] == channels[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(channels[i]);
    if (j > i) out += cat("-", channels[j]);
    i = j + 1;
  }
  return out;
}

json ShardManifest::to_json() const {
  json j = sweep.to_json();
  j["shard"] = json{{"index", shard.index}, {"count", shard.count}, {"batch", batch},
                    {"requested", format_channel_list(requested)}, {"dynamic", dynamic}};
  return j;
}

ShardManifest ShardManifest::from_json(const json& j) {
  ShardManifest m;
  m.sweep = SweepManifest::from_json(j);
  const json& s = j.at("shard");
  m.shard = {s.at("index").get<int>(), s.at("count").get<int>()};
  CUVIZ_CHECK(m.shard.count >= 1 && m.shard.index >= 0 && m.shard.index < m.shard.count, "bad shard ", m.shard.label());
  m.batch = s.at("batch");
  m.requested = parse_channel_list(s.at("requested").get<std::string>());
  m.dynamic = s.value("dynamic", false);
  return m;
}

std::vector<ShardManifest> load_shard_manifests(const std::string& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(fs::path(dir) / "shards"))
    for (const auto& e : fs::directory_iterator(fs::path(dir) / "shards")) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && (name.rfind("shard-", 0) == 0 || name.rfind("device-", 0) == 0) &&
          e.path().extension() == ".json")
        files.push_back(e.path());
    }
  std::sort(files.begin(), files.end());
  std::vector<ShardManifest> out;
  for (const auto& f : files) {
    try {
      out.push_back(ShardManifest::from_json(json::parse(read_file(f.string()))));
    } catch (const json::exception& e) {
      throw Error(cat(f.string(), ": unreadable shard manifest (", e.what(), "); remove it and rerun that shard"));
    } catch (const Error& e) {
      throw Error(cat(f.string(), ": ", e.what(), "; remove it and rerun that shard"));
    }
  }
  return out;
}

namespace {

void save_shard(const std::string& dir, const ShardManifest& m) {
  write_file_atomic((fs::path(dir) / shard_manifest_file(m.shard, m.dynamic)).string(), m.to_json().dump(2) + "\n");
}

// The one loop of both kinds of share. Static (`claim` empty): the batches of shard_batch_range.
// Dynamic (--devices): every batch of the layout, each rendered only if claim(b) wins it.
ShardManifest run_share(const Network& net, const SweepOptions& o, const ShardSpec& shard,
                        const std::function<bool(size_t)>& claim, std::optional<std::pair<size_t, size_t>> range,
                        const std::function<void(const SweepProgress&)>& progress) {
  const bool dynamic = bool(claim);
  const SweepSettings& s = o.settings;
  check_settings(s);
  CUVIZ_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "sweep: bad shard ", shard.label());
  const Plan plan = net.plan(Shape{1, 3, s.size, s.size}, {s.layer});
  const int layer_c = net.activation(plan, s.layer).c();
  std::vector<int> channels = o.channels;
  if (channels.empty())
    for (int c = 0; c < layer_c; ++c) channels.push_back(c);
  for (int c : channels)
    CUVIZ_CHECK(c >= 0 && c < layer_c, "sweep: channel ", c, " out of range: ", s.layer, " has ", layer_c,
                " channels (0-", layer_c - 1, ")");

  // The layout: the batches of a single-process sweep of the whole list.
  const int batch = std::min<int>(o.batch > 0 ? o.batch : auto_sweep_batch(net, s, int(channels.size())),
                                  std::max<int>(1, int(channels.size())));
  const std::vector<std::vector<int>> batches = sweep_batches(channels, batch);
  const auto [first_batch, last_batch] =
      range ? *range : dynamic ? std::pair<size_t, size_t>{0, batches.size()} : shard_batch_range(batches.size(), shard);

  // What the directory holds: every shard's manifest must be of this sweep; this shard's own one
  // (if any) of this layout. A channel another shard manifest lists with its PNG is done.
  fs::create_directories(fs::path(o.dir) / "channels");
  fs::create_directories(fs::path(o.dir) / "shards");
  ShardManifest mine{.sweep = {}, .shard = shard, .batch = batch, .requested = channels, .dynamic = dynamic};
  std::map<int, std::string> done_elsewhere;  // channel -> the shard that lists it
  for (ShardManifest& other : load_shard_manifests(o.dir)) {
    const bool own = other.shard.index == shard.index && other.shard.count == shard.count && other.dynamic == dynamic;
    if (o.overwrite) {
      if (own) continue;  // this shard starts afresh; other shards' files are theirs
      CUVIZ_CHECK(s.differences(other.sweep.settings).empty(), "sweep: ", o.dir, " holds shard ", other.shard.label(),
                  " of a sweep with other settings (", s.differences(other.sweep.settings),
                  "); --overwrite replaces only this shard's manifest: use another directory");
    }
    const std::string diff = s.differences(other.sweep.settings);
    CUVIZ_CHECK(diff.empty(), "sweep: ", o.dir, " holds shard ", other.shard.label(), " of a sweep with other settings (",
                diff, "); use another directory or --overwrite");
    if (own) {
      CUVIZ_CHECK(other.batch == batch && other.requested == channels, "sweep: shard ", shard.label(), " in ", o.dir,
                  " was started with another layout (batch ", other.batch, ", channels ",
                  format_channel_list(other.requested), "; now batch ", batch, ", channels ",
                  format_channel_list(channels), "); give the same --batch and --channels, or --overwrite");
      for (const auto& [c, r] : other.sweep.channels)
        if (fs::exists(fs::path(o.dir) / r.file)) mine.sweep.channels[c] = r;
      mine.sweep.render_seconds = other.sweep.render_seconds;
    } else {
      for (const auto& [c, r] : other.sweep.channels)
        if (fs::exists(fs::path(o.dir) / r.file)) done_elsewhere.emplace(c, other.shard.label());
    }
  }
  mine.sweep.settings = s;
  mine.sweep.device = device_description(net);
  mine.sweep.total_channels = int(channels.size());

  // The batches of this share with a channel not done anywhere.
  auto done = [&](int c) { return mine.sweep.channels.count(c) > 0 || done_elsewhere.count(c) > 0; };
  std::vector<size_t> todo;
  int share_channels = 0, skipped = 0;
  for (size_t b = first_batch; b < last_batch; ++b) {
    share_channels += int(batches[b].size());
    const int finished = int(std::count_if(batches[b].begin(), batches[b].end(), done));
    if (finished == int(batches[b].size()))
      skipped += finished;
    else
      todo.push_back(b);
  }
  save_shard(o.dir, mine);  // the shard is known (and its share requested) from the start

  RenderOptions ro = render_options(s, net.device());
  ro.cuda_graph = o.cuda_graph;
  ro.batch = batch;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  int done_this_run = 0;
  auto report = [&](int bsize, int step, int steps) {
    if (!progress) return;
    SweepProgress p;
    p.total = share_channels;
    p.skipped = skipped;
    p.done = skipped + done_this_run;
    p.batch_size = bsize;
    p.batch_step = step;
    p.batch_steps = steps;
    p.seconds = elapsed();
    const double steps_done = double(done_this_run) * s.steps + double(bsize) * step;
    if (p.seconds > 0) {
      p.image_steps_per_s = steps_done / p.seconds;
      p.channels_per_s = p.image_steps_per_s / s.steps;
      const double left = double(share_channels - skipped - done_this_run) * s.steps - double(bsize) * step;
      p.eta_seconds = p.image_steps_per_s > 0 ? std::max(0.0, left) / p.image_steps_per_s : 0;
    }
    progress(p);
  };
  report(0, 0, s.steps);

  // A batch's objectives exactly as run_sweep forms them: its channels, the last repeated up to
  // `batch` (the padded images are discarded).
  auto batch_objectives = [&](size_t b) {
    std::vector<Objective> objectives;
    for (int i = 0; i < batch; ++i) {
      const int c = batches[b][std::min(size_t(i), batches[b].size() - 1)];
      objectives.push_back(s.objective == "channel" ? channel(s.layer, c) : neuron(s.layer, c));
    }
    return objectives;
  };
  std::unique_ptr<Renderer> renderer;
  double setup_seconds = 0;
  InterruptScope interruptible;  // Ctrl-C / SIGTERM: abandon the batch in flight (core/interrupt.h)
  for (size_t b : todo) {
    check_interrupt("");
    if (dynamic && !claim(b)) {  // another worker has it
      share_channels -= int(batches[b].size());
      continue;
    }
    if (!renderer) {
      const auto t_setup = std::chrono::steady_clock::now();
      renderer = std::make_unique<Renderer>(net, batch_objectives(b), ro);
      setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
    } else {
      renderer->restart(batch_objectives(b));
    }
    const int n = int(batches[b].size());
    const RenderResult r = render_loop(*renderer, [&](const RenderProgress& rp) { report(n, rp.step, rp.steps); });
    // PNGs first, then the manifest that lists them: a crash in between leaves PNGs no manifest
    // lists, which the rerun renders (to the same bytes) again.
    for (int i = 0; i < n; ++i) {
      const int c = batches[b][size_t(i)];
      if (done_elsewhere.count(c)) continue;  // another shard's (after a rerun with another N)
      ChannelResult cr{c, r.objective[size_t(i)], channel_file(s.layer, c)};
      write_png((fs::path(o.dir) / cr.file).string(), tensor_to_image(r.images, i));
      mine.sweep.channels[c] = cr;
    }
    mine.sweep.render_seconds += r.seconds + std::exchange(setup_seconds, 0.0);
    save_shard(o.dir, mine);
    done_this_run += n;
    report(0, 0, s.steps);
  }
  return mine;
}

}  // namespace

ShardManifest run_shard_sweep(const Network& net, const SweepOptions& o, const ShardSpec& shard,
                              const std::function<void(const SweepProgress&)>& progress) {
  return run_share(net, o, shard, {}, std::nullopt, progress);
}

ShardManifest run_worker_sweep(const Network& net, const SweepOptions& o, const ShardSpec& worker,
                               const std::string& claims_dir,
                               const std::function<void(const SweepProgress&)>& progress) {
  CUVIZ_CHECK(fs::is_directory(claims_dir), "sweep: claims directory ", claims_dir, " does not exist");
  // A claim is a file created with O_EXCL: of all the workers trying batch b, exactly one
  // creates claims_dir/b (atomic on POSIX file systems, NFS v3+ included).
  auto claim = [&](size_t b) {
    const std::string path = (fs::path(claims_dir) / std::to_string(b)).string();
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) {
      CUVIZ_CHECK(errno == EEXIST, "sweep: cannot create the claim ", path, ": ", std::strerror(errno));
      return false;
    }
    ::close(fd);
    return true;
  };
  return run_share(net, o, worker, claim, std::nullopt, progress);
}

MergeResult merge_sweep_shards(const std::string& dir, int thumb) {
  CUVIZ_CHECK(fs::is_directory(dir), "gallery merge: ", dir, " is not a directory");
  const std::vector<ShardManifest> shards = load_shard_manifests(dir);
  CUVIZ_CHECK(!shards.empty(), "gallery merge: no shard manifests in ", (fs::path(dir) / "shards").string(),
              " (written by cuviz sweep --shard i/N -o ", dir, ")");
  MergeResult out;
  out.shards = int(shards.size());
  SweepManifest& m = out.manifest;
  m.settings = shards.front().sweep.settings;
  std::set<int> requested;
  std::set<std::string> devices;
  for (const ShardManifest& sh : shards) {
    const std::string diff = m.settings.differences(sh.sweep.settings);
    CUVIZ_CHECK(diff.empty(), "gallery merge: shard ", sh.shard.label(), " in ", dir,
                " is of a sweep with other settings than shard ", shards.front().shard.label(), " (", diff, ")");
    requested.insert(sh.requested.begin(), sh.requested.end());
    for (const auto& [c, r] : sh.sweep.channels) {
      CUVIZ_CHECK(fs::exists(fs::path(dir) / r.file), "gallery merge: shard ", sh.shard.label(), " lists ", r.file,
                  ", which is missing; rerun that shard");
      m.channels.emplace(c, r);  // the first shard (by file name) that lists c
    }
    m.render_seconds += sh.sweep.render_seconds;
    if (!sh.sweep.channels.empty()) devices.insert(sh.sweep.device);
  }
  for (const auto& [c, r] : m.channels) requested.insert(c);
  m.total_channels = int(requested.size());
  for (const std::string& d : devices) m.device += (m.device.empty() ? "" : ", ") + d;
  for (int c : requested)
    if (!m.channels.count(c)) out.missing.push_back(c);

  // Whose share each missing channel is, in the layout of the first shard that requested it
  // (the shard whose batch range holds the channel's batch, whether or not it ever ran).
  for (int c : out.missing)
    for (const ShardManifest& sh : shards) {
      if (sh.dynamic) continue;  // a --devices worker owns no fixed share
      const auto batches = sweep_batches(sh.requested, sh.batch);
      const auto it = std::find_if(batches.begin(), batches.end(), [&](const std::vector<int>& bt) {
        return std::find(bt.begin(), bt.end(), c) != bt.end();
      });
      if (it == batches.end()) continue;
      const size_t b = size_t(it - batches.begin());
      for (int i = 0; i < sh.shard.count; ++i) {
        const auto [b0, b1] = shard_batch_range(batches.size(), ShardSpec{i, sh.shard.count});
        if (b >= b0 && b < b1) {
          out.missing_owner[c] = ShardSpec{i, sh.shard.count}.label();
          break;
        }
      }
      break;
    }

  write_contact_sheet(dir, m, thumb);
  write_gallery_html(dir, m);
  m.save(dir);
  return out;
}

// ---- several layers in one sweep ---------------------------------------------------------------

std::vector<std::string> sweep_layer_names(const Network& net, const std::string& text) {
  std::vector<std::string> out;
  if (text == "all") {
    for (const LayerDesc& l : net.graph().layers)
      if ((l.kind == LayerKind::conv || l.kind == LayerKind::concat) &&
          std::find(out.begin(), out.end(), l.output) == out.end())
        out.push_back(l.output);
    CUVIZ_CHECK(!out.empty(), "sweep: --layer all: the network has no conv or concat layer");
    return out;
  }
  for (size_t pos = 0;;) {
    const size_t end = std::min(text.find(',', pos), text.size());
    const std::string name = text.substr(pos, end - pos);
    CUVIZ_CHECK(!name.empty(), "sweep: --layer '", text, "': empty layer name");
    CUVIZ_CHECK(std::find(out.begin(), out.end(), name) == out.end(), "sweep: --layer '", text, "': ", name, " twice");
    out.push_back(name);
    if (end == text.size()) break;
    pos = end + 1;
  }
  return out;
}

std::string layer_sweep_dir(const std::string& dir, const std::string& layer) {
  return (fs::path(dir) / layer_file_stem(layer)).string();
}

std::vector<LayerLayout> multi_layer_layout(const Network& net, const SweepOptions& o,
                                            const std::vector<std::string>& layers) {
  std::vector<LayerLayout> out;
  for (const std::string& layer : layers) {
    SweepSettings s = o.settings;
    s.layer = layer;
    const Plan plan = net.plan(Shape{1, 3, s.size, s.size}, {layer});
    const int layer_c = net.activation(plan, layer).c();
    LayerLayout l{layer, o.channels, 0};
    if (l.channels.empty())
      for (int c = 0; c < layer_c; ++c) l.channels.push_back(c);
    for (int c : l.channels)
      CUVIZ_CHECK(c >= 0 && c < layer_c, "sweep: channel ", c, " out of range: ", layer, " has ", layer_c,
                  " channels (0-", layer_c - 1, ")");
    l.batch = std::min<int>(o.batch > 0 ? o.batch : auto_sweep_batch(net, s, int(l.channels.size())),
                            std::max<int>(1, int(l.channels.size())));
    out.push_back(std::move(l));
  }
  return out;
}

namespace {

json layers_json(const std::vector<LayerLayout>& layout) {
  json ls = json::array();
  for (const LayerLayout& l : layout)
    ls.push_back(json{{"layer", l.layer}, {"requested", format_channel_list(l.channels)}, {"batch", l.batch}});
  return json{{"format", "cuviz-sweep-layers-1"}, {"layers", ls}};
}

SweepOptions layer_options(const SweepOptions& o, const std::string& layer) {
  SweepOptions lo = o;
  lo.settings.layer = layer;
  lo.dir = layer_sweep_dir(o.dir, layer);
  return lo;
}

}  // namespace

void write_layers_file(const std::string& dir, const std::vector<LayerLayout>& layout) {
  fs::create_directories(dir);
  const std::string path = (fs::path(dir) / "layers.json").string();
  const std::string text = layers_json(layout).dump(2) + "\n";
  if (fs::exists(path)) {
    const std::string old = read_file(path);
    CUVIZ_CHECK(old == text, "sweep: ", dir, " holds a sweep of other layers or channels (", path,
                "); use another directory");
    return;
  }
  write_file_atomic(path, text);
}

std::vector<LayerLayout> read_layers_file(const std::string& dir) {
  const std::string path = (fs::path(dir) / "layers.json").string();
  try {
    const json j = json::parse(read_file(path));
    CUVIZ_CHECK(j.value("format", "") == "cuviz-sweep-layers-1", "not a cuviz layer list");
    std::vector<LayerLayout> out;
    for (const json& l : j.at("layers"))
      out.push_back({l.at("layer"), parse_channel_list(l.at("requested").get<std::string>()), l.at("batch")});
    return out;
  } catch (const json::exception& e) {
    throw Error(cat(path, ": unreadable (", e.what(), ")"));
  }
}

std::pair<size_t, size_t> multi_layer_shard_range(const std::vector<LayerLayout>& layout, size_t layer,
                                                 const ShardSpec& shard) {
  size_t total = 0, offset = 0;
  for (size_t i = 0; i < layout.size(); ++i) {
    const size_t k = sweep_batches(layout[i].channels, layout[i].batch).size();
    if (i < layer) offset += k;
    total += k;
  }
  const size_t k = sweep_batches(layout[layer].channels, layout[layer].batch).size();
  const auto [g0, g1] = shard_batch_range(total, shard);
  const size_t b0 = std::clamp(g0, offset, offset + k) - offset, b1 = std::clamp(g1, offset, offset + k) - offset;
  return {b0, std::max(b0, b1)};
}

int run_multi_layer_shard(const Network& net, const SweepOptions& o, const std::vector<LayerLayout>& layout,
                          const ShardSpec& shard, const std::function<void(const SweepProgress&)>& progress) {
  write_layers_file(o.dir, layout);
  int rendered = 0;
  for (size_t i = 0; i < layout.size(); ++i) {
    const auto range = multi_layer_shard_range(layout, i, shard);
    if (range.first == range.second) continue;  // none of this layer's batches is ours
    SweepOptions lo = layer_options(o, layout[i].layer);
    lo.channels = layout[i].channels;
    lo.batch = layout[i].batch;
    rendered += int(run_share(net, lo, shard, {}, range, progress).sweep.channels.size());
  }
  return rendered;
}

void run_multi_layer_sweep(const Network& net, const SweepOptions& o, const std::vector<LayerLayout>& layout,
                           const std::function<void(size_t, const SweepProgress&)>& progress) {
  write_layers_file(o.dir, layout);
  for (size_t i = 0; i < layout.size(); ++i) {
    SweepOptions lo = layer_options(o, layout[i].layer);
    lo.channels = layout[i].channels;
    lo.batch = layout[i].batch;
    run_sweep(net, lo, [&](const SweepProgress& p) {
      if (progress) progress(i, p);
    });
  }
  write_layers_index(o.dir, layout);
}

void write_layers_index(const std::string& dir, const std::vector<LayerLayout>& layout) {
  std::string rows;
  for (const LayerLayout& l : layout) {
    const std::string stem = layer_file_stem(l.layer);
    const auto m = SweepManifest::load(layer_sweep_dir(dir, l.layer));
    const size_t done = m ? m->channels.size() : 0;
    rows += cat("<tr><td><a href=\"", html_escape(stem), "/index.html\">", html_escape(l.layer), "</a></td><td>", done,
                " of ", l.channels.size(), "</td><td>",
                done ? cat("<a href=\"", html_escape(stem), "/index.html\"><img src=\"", html_escape(stem),
                           "/contact_sheet.png\" alt=\"", html_escape(l.layer), "\"></a>")
                     : std::string("not rendered yet"),
                "</td></tr>\n");
  }
  const std::string page = cat(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>cuviz sweep: ", layout.size(),
      " layers</title>\n<style>body { font-family: system-ui, sans-serif; margin: 1.5em; background: #111; color: #ddd; }\n"
      "a { color: #9cf; } td { padding: .4em 1em; vertical-align: top; } img { max-width: 240px; }</style>\n"
      "</head>\n<body>\n<h1>", layout.size(), " layers</h1>\n<table>\n<tr><th>layer</th><th>channels</th><th>contact sheet</th></tr>\n",
      rows, "</table>\n</body>\n</html>\n");
  write_file_atomic((fs::path(dir) / "index.html").string(), page);
}

MultiMergeResult merge_multi_layer(const std::string& dir, int thumb) {
  const std::vector<LayerLayout> layout = read_layers_file(dir);
  MultiMergeResult out;
  for (const LayerLayout& l : layout) {
    const std::string sub = layer_sweep_dir(dir, l.layer);
    std::vector<int> missing = l.channels;
    if (!load_shard_manifests(sub).empty()) {
      const MergeResult r = merge_sweep_shards(sub, thumb);
      out.shards += r.shards;
      out.channels += int(r.manifest.channels.size());
      missing = r.missing;
    }
    if (!missing.empty()) out.missing.emplace_back(l.layer, missing);
    out.total += int(l.channels.size());
  }
  write_layers_index(dir, layout);
  return out;
}

}  // namespace cuviz
