// `cuviz render MODEL --objective EXPR -o out.png`: activation maximization (viz/render.h) with the
// progress bar (apps/progress.h) on stderr; writes the PNG (a horizontal strip for a batch, plus
// out_<i>.png), an optional .npy of the final images and out.json with every setting
// (RenderSettings, viz/settings.h: the start image and the parameterization among them), objective
// and timing.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/profile.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "nn/network.h"
#include "viz/render.h"

namespace cuviz::app {

namespace {

// Everything `cuviz render` is given: what to render (the settings, recorded in out.json), how to
// run it, and where to write.
struct RenderCommand {
  ModelOptions model;
  RenderSettings settings;
  RunOptions run;
  int save_every = 0;
  std::string out, npy;
};

// "out.png" -> "out" + suffix.
std::string with_suffix(const std::string& png, const std::string& suffix) {
  const size_t dot = png.rfind('.'), slash = png.rfind('/');
  const std::string stem = (dot == std::string::npos || (slash != std::string::npos && dot < slash)) ? png : png.substr(0, dot);
  return stem + suffix;
}

// The batch side by side, one pixel of white between images.
Image strip(const Tensor& images) {
  const int n = images.n(), h = images.h(), w = images.w();
  Image s;
  s.width = n * w + (n - 1);
  s.height = h;
  s.channels = 3;
  s.pixels.assign(size_t(s.width) * h * 3, 255);
  for (int i = 0; i < n; ++i) {
    const Image one = tensor_to_image(images, i);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) s.at(i * (w + 1) + x, y, c) = one.at(x, y, c);
  }
  return s;
}

// The PNG files of a result, (path, bytes): one image, or a strip plus one file per image.
std::vector<std::pair<std::string, std::string>> image_files(const std::string& png, const Tensor& images) {
  if (images.n() == 1) return {{png, encode_png(tensor_to_image(images, 0))}};
  std::vector<std::pair<std::string, std::string>> files = {{png, encode_png(strip(images))}};
  for (int i = 0; i < images.n(); ++i)
    files.emplace_back(with_suffix(png, cat("_", i, ".png")), encode_png(tensor_to_image(images, i)));
  return files;
}

void write_images(const std::string& png, const Tensor& images) { write_files_atomic(image_files(png, images)); }

void run_render(const RenderCommand& o) {
  const RenderSettings& rs = o.settings;
  usage_check(!o.out.empty() || o.run.profile > 0, "render: -o out.png is required (unless --profile)");
  usage_check(rs.objectives.size() == 1 || int(rs.objectives.size()) == rs.batch, "render: ", rs.objectives.size(),
              " objectives for --batch ", rs.batch, " (give one for all images or one per image)");
  check_precision_backend(rs.precision, o.run.backend);
  try {  // an .npy start with a param that cannot hold it: options that do not go together (the library's message)
    check_source_param(ImageSource::parse(rs.start), parse_param_kind(rs.param.c_str()));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (!o.out.empty()) check_output_dir(o.out);
  if (!o.npy.empty()) check_output_dir(o.npy);
  std::vector<Objective> objectives;
  for (const auto& text : rs.objectives) objectives.push_back(parse_objective(text));

  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();
  RenderOptions ro = render_options(rs, net.device());  // the batch and the start too
  ro.cuda_graph = !o.run.no_cuda_graph;
  if (o.run.profile > 0) return profile_render(net, objectives, ro, profile_request("render", o.run));
  if (o.save_every > 0)
    for (int s = o.save_every; s < rs.steps; s += o.save_every) ro.checkpoints.push_back(s);
  ro.progress_every = std::max(1, std::min(16, o.save_every > 0 ? o.save_every : 16));

  ProgressBar bar(o.run.quiet);
  const RenderResult r = render(net, objectives, ro, [&](const RenderProgress& p) {
    double mean = 0;
    for (double v : p.objective) mean += v;
    mean /= double(std::max<size_t>(p.objective.size(), 1));
    const double rate = p.seconds > 0 ? p.step / p.seconds : 0.0;
    bar.update(p.steps ? double(p.step) / p.steps : 1.0,
               cat(p.step, "/", p.steps, " steps  objective ", mean, "  ", std::round(rate * 100) / 100, " steps/s  ETA ",
                   format_seconds(rate > 0 ? (p.steps - p.step) / rate : -1)),
               p.step == p.steps);
    if (p.images) write_images(with_suffix(o.out, cat("_step", p.step, ".png")), *p.images);
  });
  // The PNG(s), the .npy and the .json are written all or none (io/atomic_file.h).
  auto files = image_files(o.out, r.images);
  if (!o.npy.empty()) files.emplace_back(o.npy, encode_npy(o.npy, r.images));

  // Every setting under its key (viz/settings.h), then what this run was and measured.
  nlohmann::json j = settings_to_json(rs);
  j["command"] = "render";
  j["model"] = o.model.model;
  j["model_name"] = model_name;
  j["relu_override_steps"] = rs.relu_override;  // the key before the settings were unified; kept for readers
  j["device"] = device_name(ro.device);
  j["backend"] = o.run.backend;
  j["objective_final"] = r.objective;  // per image, without transforms
  j["history_steps"] = r.history_steps;
  j["history"] = r.history;           // per recorded step, per image, with transforms
  j["setup_seconds"] = r.setup_seconds;
  j["seconds"] = r.seconds;
  j["steps_per_second"] = r.seconds > 0 ? rs.steps / r.seconds : 0.0;
  j["png"] = o.out;
  if (!o.npy.empty()) j["npy"] = o.npy;
  files.emplace_back(with_suffix(o.out, ".json"), j.dump(2) + "\n");
  write_files_atomic(files);
  double mean = 0;
  for (double v : r.objective) mean += v;
  std::printf("%s: objective %.6g (mean of %d, without transforms), %d steps in %.2f s -> %s\n",
              rs.objectives.size() == 1 ? rs.objectives[0].c_str() : "objectives", mean / double(r.objective.size()),
              int(r.objective.size()), rs.steps, r.seconds, o.out.c_str());
}

}  // namespace

Command add_render_command(CLI::App& app) {
  auto o = std::make_shared<RenderCommand>();
  CLI::App* cmd = app.add_subcommand("render", "Activation maximization: render what a channel, neuron or class wants");
  add_model_options(cmd, o->model);
  add_settings_options(cmd, o->settings);
  // An expression that does not parse is a usage error (exit 2); names are checked against the
  // network once it is loaded (an unknown layer is a failure at run time, exit 1).
  cmd->get_option("--objective")->check(parses_with(parse_objective));
  cmd->add_option("--save-every", o->save_every, "Also write out_step<K>.png every K steps (0 = never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--out", o->out, "Output PNG (written atomically; out.json beside it); required unless --profile");
  cmd->add_option("--npy", o->npy, "Also write the final images as float32 .npy (N, 3, H, W) in [0, 1]");
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_render(*o); }};
}

}  // namespace cuviz::app
