// Channel sweeps: plan the work from the manifest, render batches with one Renderer, and
// after each batch write its PNGs, then the manifest, then the gallery page — each atomically,
// in that order, so an interruption loses at most the batch in flight and a rerun continues.
#include "viz/sweep.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <utility>

#include "io/image.h"
#include "core/cuda_runtime.h"
#include "core/interrupt.h"
#include "viz/objective.h"

namespace cuviz {

namespace fs = std::filesystem;

std::vector<int> parse_channel_list(const std::string& text) {
  std::set<int> out;
  size_t pos = 0;
  auto number = [&](size_t& p) {
    CUVIZ_CHECK(p < text.size() && std::isdigit(static_cast<unsigned char>(text[p])), "channel list '", text,
                "': expected a number at column ", p + 1, " (forms: 7, 0-511, 1,5,9-12)");
    long v = 0;
    while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p]))) {
      v = v * 10 + (text[p++] - '0');
      CUVIZ_CHECK(v < (1 << 24), "channel list '", text, "': number too large");
    }
    return int(v);
  };
  while (true) {
    const int a = number(pos);
    int b = a;
    if (pos < text.size() && text[pos] == '-') {
      ++pos;
      b = number(pos);
      CUVIZ_CHECK(b >= a, "channel list '", text, "': range ", a, "-", b, " runs backwards");
    }
    for (int c = a; c <= b; ++c) out.insert(c);
    if (pos == text.size()) break;
    CUVIZ_CHECK(text[pos] == ',', "channel list '", text, "': unexpected '", text[pos], "' at column ", pos + 1);
    ++pos;
  }
  return {out.begin(), out.end()};
}

namespace {

// The channel count of the swept layer at the sweep's size (also checks that the layer exists).
int layer_channels(const Network& net, const SweepSettings& s) {
  const Plan plan = net.plan(Shape{1, 3, s.size, s.size}, {s.layer});
  return net.activation(plan, s.layer).c();
}


// A run killed while writing (SIGKILL, a power cut) leaves the temporary of the file it was
// writing (io/atomic_file.h names them <file>.tmp.<pid>); the target itself is intact. A rerun
// removes them, so a resumed folder holds exactly what an uninterrupted sweep writes.
void remove_stale_temporaries(const std::string& dir) {
  for (const fs::path& folder : {fs::path(dir), fs::path(dir) / "channels"}) {
    std::error_code ec;
    std::vector<fs::path> stale;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
      const std::string name = e.path().filename().string();
      const size_t at = name.rfind(".tmp.");
      if (at == std::string::npos || at + 5 == name.size() || !e.is_regular_file(ec)) continue;
      if (std::all_of(name.begin() + long(at) + 5, name.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        stale.push_back(e.path());
    }
    for (const auto& p : stale) fs::remove(p, ec);
  }
}

}  // namespace

int auto_sweep_batch(const Network& net, const SweepSettings& s, int todo) {
  if (todo <= 0) return 1;
  if (net.device() == Device::cpu) return std::min(todo, 8);
  // Arena per image from two plans (the difference removes the batch-independent part).
  const Plan one = net.plan(Shape{1, 3, s.size, s.size}, {s.layer}, PlanOptions{.backward = true});
  const Plan two = net.plan(Shape{2, 3, s.size, s.size}, {s.layer}, PlanOptions{.backward = true});
  const size_t per_image = std::max<size_t>(two.arena_bytes() - one.arena_bytes(), 1) +
                           size_t(s.size) * s.size * 3 * sizeof(float) * 8;  // params, Adam, images, grads
  size_t free_bytes = 0, total_bytes = 0;
  cuda_rt::memory_info(free_bytes, total_bytes);
  const size_t fit = size_t(double(free_bytes) * 0.7) / per_image;
  return int(std::clamp<size_t>(fit, 1, size_t(std::min(todo, 512))));
}

std::string device_description(const Network& net) {
  if (net.device() == Device::cuda) return cuda_rt::device_name();
  const int threads = omp_get_max_threads();
  return cat("cpu (", threads, threads == 1 ? " thread)" : " threads)");
}

SweepManifest run_sweep(const Network& net, const SweepOptions& o,
                        const std::function<void(const SweepProgress&)>& progress) {
  const SweepSettings& s = o.settings;
  check_settings(s);  // a clear error (size, objective, precision, ...) before anything is rendered
  const int layer_c = layer_channels(net, s);
  std::vector<int> channels = o.channels;
  if (channels.empty())
    for (int c = 0; c < layer_c; ++c) channels.push_back(c);
  for (int c : channels)
    CUVIZ_CHECK(c >= 0 && c < layer_c, "sweep: channel ", c, " out of range: ", s.layer, " has ", layer_c,
                " channels (0-", layer_c - 1, ")");

  // Resume from an earlier run when its settings match.
  fs::create_directories(fs::path(o.dir) / "channels");
  remove_stale_temporaries(o.dir);
  SweepManifest m;
  if (auto old = SweepManifest::load(o.dir); old && !o.overwrite) {
    const std::string diff = s.differences(old->settings);
    CUVIZ_CHECK(diff.empty(), "sweep: ", o.dir, " holds a sweep with other settings (", diff,
                "); use another directory or --overwrite");
    m = std::move(*old);
  }
  m.settings = s;
  m.device = device_description(net);
  std::vector<int> todo;
  int skipped = 0;
  for (int c : channels) {
    auto it = m.channels.find(c);
    if (it != m.channels.end() && fs::exists(fs::path(o.dir) / it->second.file))
      ++skipped;
    else
      todo.push_back(c);
  }
  std::set<int> requested(channels.begin(), channels.end());
  for (const auto& [c, r] : m.channels) requested.insert(c);
  m.total_channels = int(requested.size());

  const int batch = o.batch > 0 ? o.batch : auto_sweep_batch(net, s, int(todo.size()));
  RenderOptions ro = render_options(s, net.device());
  ro.cuda_graph = o.cuda_graph;

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  int done_this_run = 0;
  int64_t image_steps = 0;
  auto report = [&](int bsize, int step, int steps) {
    if (!progress) return;
    SweepProgress p;
    p.total = int(channels.size());
    p.skipped = skipped;
    p.done = skipped + done_this_run;
    p.batch_size = bsize;
    p.batch_step = step;
    p.batch_steps = steps;
    p.seconds = elapsed();
    const double steps_done = double(image_steps) + double(bsize) * step;
    if (p.seconds > 0) {
      p.image_steps_per_s = steps_done / p.seconds;
      p.channels_per_s = p.image_steps_per_s / s.steps;
      const double left = double(todo.size() - done_this_run) * s.steps - double(bsize) * step;
      p.eta_seconds = p.image_steps_per_s > 0 ? left / p.image_steps_per_s : 0;
    }
    progress(p);
  };
  report(0, 0, s.steps);

  // One Renderer (one plan, one arena, one set of buffers) for the whole sweep, restarted for
  // every batch. A last batch with fewer channels is padded with repeats of its last channel,
  // whose images are discarded: it costs (batch - n) images' work once per sweep, and keeps the
  // plan, the buffers and the captured CUDA graph of the step shape the same for every batch.
  auto batch_objectives = [&](size_t first) {
    std::vector<Objective> objectives;
    for (size_t i = first; i < first + size_t(ro.batch); ++i) {
      const int c = todo[std::min(i, todo.size() - 1)];
      objectives.push_back(s.objective == "channel" ? channel(s.layer, c) : neuron(s.layer, c));
    }
    return objectives;
  };
  ro.batch = int(std::min<size_t>(size_t(batch), todo.size()));
  std::unique_ptr<Renderer> renderer;
  double setup_seconds = 0;
  if (!todo.empty()) {
    const auto t_setup = std::chrono::steady_clock::now();
    renderer = std::make_unique<Renderer>(net, batch_objectives(0), ro);
    setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
  }
  // Ctrl-C or SIGTERM (core/interrupt.h): the batch in flight is abandoned at its next step (a
  // signal while a batch is being written only raises the flag: its files, manifest and page are
  // completed first), so the folder is as after the last finished batch; apps/sweep.cpp says how
  // many channels are done and how to resume.
  InterruptScope interruptible;
  for (size_t first = 0; first < todo.size(); first += size_t(ro.batch)) {
    check_interrupt("");
    const int n = int(std::min<size_t>(size_t(ro.batch), todo.size() - first));
    if (first > 0) renderer->restart(batch_objectives(first));
    const RenderResult r = render_loop(*renderer, [&](const RenderProgress& rp) { report(n, rp.step, rp.steps); });
    for (int i = 0; i < n; ++i) {
      const int c = todo[first + i];
      ChannelResult cr{c, r.objective[i], channel_file(s.layer, c)};
      write_png((fs::path(o.dir) / cr.file).string(), tensor_to_image(r.images, i));
      m.channels[c] = cr;
    }
    m.render_seconds += r.seconds + std::exchange(setup_seconds, 0.0);
    m.save(o.dir);
    write_gallery_html(o.dir, m);
    done_this_run += n;
    image_steps += int64_t(n) * s.steps;
    report(0, 0, s.steps);
  }
  write_gallery_html(o.dir, m);
  write_contact_sheet(o.dir, m, o.thumb);
  m.save(o.dir);
  return m;
}

}  // namespace cuviz
