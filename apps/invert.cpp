// `cuviz invert MODEL IMAGE --layer L -o OUT.png`: feature inversion (Mahendran & Vedaldi 2015) or,
// with --caricature, Lucid's caricature of the photo's features at L (viz/invert.h), with the
// progress bar (apps/progress.h) on stderr; writes the PNG and OUT.json with every setting
// (InvertSettings), the steps and learning rate used, the seed, the objective per checkpoint and
// the relative feature error ||Phi(x) - Phi(x0)|| / ||Phi(x0)|| measured on the written 8-bit PNG.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "nn/network.h"
#include "viz/invert.h"

namespace cuviz::app {

namespace {

struct InvertCommand {
  ModelOptions model;
  InvertSettings settings;
  RunOptions run;
  std::string image, out;
};

// "out.png" -> "out.json".
std::string json_path(const std::string& png) {
  const size_t dot = png.rfind('.'), slash = png.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? png.substr(0, dot) : png) + ".json";
}

void run_invert(const InvertCommand& o) {
  const InvertSettings& s = o.settings;
  check_output_dir(o.out);
  read_image(o.image);  // an unreadable photo fails here, before the model loads

  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();

  ProgressBar bar(o.run.quiet);
  const InvertResult r = invert_photo(net, s, o.image, [&](const RenderProgress& p) {
    const double rate = p.seconds > 0 ? p.step / p.seconds : 0.0;
    bar.update(double(p.step) / p.steps,
               cat("step ", p.step, "/", p.steps, "  objective ", p.objective.empty() ? 0.0 : p.objective[0], "  ETA ",
                   format_seconds(rate > 0 ? (p.steps - p.step) / rate : -1)),
               p.step == p.steps);
  });
  write_png(o.out, r.png);

  nlohmann::json j = settings_to_json(s);
  j["command"] = "invert";
  j["method"] = s.caricature ? "caricature" : "mahendran-vedaldi";
  j["steps_run"] = s.steps_or_default();
  j["lr_used"] = s.lr_or_default();
  j["objective_text"] = r.objective_text;
  j["model"] = o.model.model;
  j["model_name"] = model_name;
  j["image"] = o.image;
  j["device"] = device_name(net.device());
  j["backend"] = o.run.backend;
  nlohmann::json history = nlohmann::json::array();
  for (size_t k = 0; k < r.history_steps.size(); ++k)
    history.push_back({{"step", r.history_steps[k]}, {"objective", r.history[k]}});
  j["objective_history"] = history;
  j["objective_final"] = r.objective;
  j["relative_feature_error"] = r.relative_error;
  j["relative_feature_error_measured_on"] = "the written 8-bit PNG";
  j["seconds"] = r.seconds;
  j["png"] = o.out;
  write_file_atomic(json_path(o.out), j.dump(2) + "\n");
  std::printf("%s %s at %s: relative feature error %.4f (on the 8-bit PNG) after %d steps in %.2f s -> %s\n",
              s.caricature ? "caricature of" : "inversion of", o.image.c_str(), s.layer.c_str(), r.relative_error,
              s.steps_or_default(), r.seconds, o.out.c_str());
}

}  // namespace

Command add_invert_command(CLI::App& app) {
  auto o = std::make_shared<InvertCommand>();
  CLI::App* cmd = app.add_subcommand(
      "invert", "Feature inversion: an image whose features at a layer match a photo's (Mahendran & Vedaldi 2015)");
  add_model_options(cmd, o->model);
  cmd->add_option("image", o->image, "The photo (PNG or JPEG), centre-cropped and resized to --size")->required();
  add_settings_options(cmd, o->settings);
  cmd->add_flag("--caricature", o->settings.caricature,
                "Maximise <Phi(x), Phi(x0)> with Lucid's caricature settings (512 Adam steps at 0.05 on decorrelated "
                "Fourier parameters, pad 8, jitter 8, scales 0.9-1.1, rotations -5..4) instead of inverting");
  cmd->add_option("-o,--out", o->out, "Output PNG (written atomically; OUT.json beside it)")->required();
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_invert(*o); }};
}

}  // namespace cuviz::app
