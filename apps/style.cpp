// `cuviz style MODEL --content IMAGE --style IMAGE[,IMAGE...] -o OUT.png`: style transfer
// (viz/style.h) with the progress bar (apps/progress.h) showing the content, style and TV losses;
// writes the PNG and OUT.json with every setting (StyleSettings), the layers, each scale's run
// (size, iterations, network evaluations, why it stopped), the loss curve and the output's losses.
// --save-every K also writes OUT_<iteration>.png (OUT_<scale>_<iteration>.png with --multiscale).
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "nn/network.h"
#include "viz/style.h"

namespace cuviz::app {

namespace {

struct StyleCommand {
  ModelOptions model;
  StyleSettings settings;
  RunOptions run;
  std::string content, style, out;
};

// "out.png" -> "out" (the stem the JSON and the saved iterations share).
std::string stem(const std::string& png) {
  const size_t dot = png.rfind('.'), slash = png.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return has_ext ? png.substr(0, dot) : png;
}

std::vector<std::string> paths(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    out.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

nlohmann::json point_json(const StyleLossPoint& p) {
  return {{"scale", p.scale},   {"iteration", p.iteration}, {"evaluations", p.evaluations},
          {"content", p.content}, {"style", p.style},       {"tv", p.tv},
          {"total", p.total}};
}

void run_style(const StyleCommand& o) {
  const StyleSettings& s = o.settings;
  // Usage errors first, before anything is read or loaded.
  const std::vector<std::string> style_paths = paths(o.style);
  for (const std::string& p : style_paths) usage_check(!p.empty(), "style: --style '", o.style, "' has an empty path");
  try {
    style_blend(s, int(style_paths.size()));
    style_scales(s);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  usage_check(s.init == "noise" || s.init == "content" || !s.init.empty(), "style: --init is empty");
  check_output_dir(o.out);

  const Image content = read_image(o.content);
  std::vector<Image> styles;
  for (const std::string& p : style_paths) styles.push_back(read_image(p));
  std::unique_ptr<Image> init;
  if (s.init != "noise" && s.init != "content") init = std::make_unique<Image>(read_image(s.init));

  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();

  ProgressBar bar(o.run.quiet);
  const std::string base = stem(o.out);
  const int scales = int(style_scales(s).size());
  const int total = scales * s.iters;
  const StyleResult r = style_transfer(net, s, content, styles, init.get(), [&](const StyleProgress& p) {
    const int done = p.scale * s.iters + p.iteration;
    const bool finished = p.scale + 1 == p.scales && p.iteration == p.iterations;
    const double rate = p.seconds > 0 ? done / p.seconds : 0.0;
    bar.update(finished ? 1.0 : double(done) / total,
               cat(scales > 1 ? cat("scale ", p.scale + 1, "/", p.scales, "  ") : std::string(), "iter ", p.iteration,
                   "/", p.iterations, "  content ", p.losses.content, "  style ", p.losses.style, "  tv ", p.losses.tv,
                   "  ETA ", format_seconds(finished ? 0 : (rate > 0 ? (total - done) / rate : -1))),
               finished);
    if (p.image)
      write_png(scales > 1 ? cat(base, "_", p.scale + 1, "_", p.iteration, ".png") : cat(base, "_", p.iteration, ".png"),
                tensor_to_image(*p.image, 0));
  });
  write_png(o.out, tensor_to_image(r.image, 0));

  nlohmann::json j = settings_to_json(s);
  j["command"] = "style";
  j["model"] = o.model.model;
  j["model_name"] = model_name;
  j["content"] = o.content;
  j["style"] = style_paths;
  j["style_blend_normalised"] = style_blend(s, int(style_paths.size()));
  j["content_layer_used"] = r.layers.content;
  j["style_layers_used"] = r.layers.style;
  j["style_layer_weights_used"] = r.layers.style_weights;
  j["height"] = r.image.h();
  j["width"] = r.image.w();
  j["device"] = device_name(net.device());
  j["backend"] = o.run.backend;
  nlohmann::json runs = nlohmann::json::array();
  for (const StyleScaleRun& run : r.runs)
    runs.push_back({{"height", run.height},
                    {"width", run.width},
                    {"iterations", run.iterations},
                    {"evaluations", run.evaluations},
                    {"stop", run.stop},
                    {"seconds", run.seconds},
                    {"loop_seconds", run.loop_seconds},
                    {"iterations_per_second", run.loop_seconds > 0 ? run.iterations / run.loop_seconds : 0.0}});
  j["runs"] = runs;
  nlohmann::json curve = nlohmann::json::array();
  for (const StyleLossPoint& p : r.curve) curve.push_back(point_json(p));
  j["loss_curve"] = curve;
  j["start_losses"] = point_json(r.start_losses);
  j["final_losses"] = point_json(r.final_losses);
  j["content_target_mean_square"] = r.content_mean_square;
  // ||F - P|| / ||P|| at the content layer (the output's features against the photo's).
  j["content_relative_distance"] =
      s.content_weight > 0 ? std::sqrt(r.final_losses.content / s.content_weight / r.content_mean_square) : -1.0;
  j["seconds"] = r.seconds;
  j["png"] = o.out;
  write_file_atomic(base + ".json", j.dump(1) + "\n");
  const StyleScaleRun& last = r.runs.back();
  std::printf("style: loss %.6g (content %.6g, style %.6g, tv %.6g) after %d iterations (%lld evaluations, %s) at "
              "%dx%d in %.2f s -> %s\n",
              r.final_losses.total, r.final_losses.content, r.final_losses.style, r.final_losses.tv, last.iterations,
              (long long)r.final_losses.evaluations, last.stop.c_str(), r.image.w(), r.image.h(), r.seconds,
              o.out.c_str());
}

}  // namespace

Command add_style_command(CLI::App& app) {
  auto o = std::make_shared<StyleCommand>();
  CLI::App* cmd = app.add_subcommand(
      "style", "Style transfer: a photo's content in another image's style (Gatys et al.; neural-style's defaults)");
  add_model_options(cmd, o->model);
  cmd->add_option("--content", o->content, "The content photo (PNG or JPEG); the output keeps its aspect")->required();
  cmd->add_option("--style", o->style, "Style image(s), comma-separated (any size and aspect)")->required();
  add_settings_options(cmd, o->settings);
  cmd->add_flag("--original-colors", o->settings.original_colors,
                "Keep the content photo's colours (the result's luminance with the photo's chrominance)");
  cmd->add_option("-o,--out", o->out, "Output PNG (written atomically; OUT.json beside it)")->required();
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_style(*o); }};
}

}  // namespace cuviz::app
