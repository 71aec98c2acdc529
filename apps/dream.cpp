// `cuviz dream MODEL IMAGE -o OUT.png`: DeepDream (viz/dream.h) on a photo at its own size, with
// the progress bar (apps/progress.h) on stderr; writes the PNG (the photo's size) and OUT.json
// with every setting (DreamSettings, viz/settings.h style), the seed, and per octave its size,
// whether it ran in tiles and the objective at its start and end. --guide IMAGE: the guided dream
// (the objective is guide(LAYER, the guide's features), viz/term_guide.h).
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
#include "viz/dream.h"

namespace cuviz::app {

namespace {

struct DreamCommand {
  ModelOptions model;
  DreamSettings settings;
  RunOptions run;
  std::string image, out;
  bool layer_given = false, objective_given = false;
};

// "out.png" -> "out.json".
std::string json_path(const std::string& png) {
  const size_t dot = png.rfind('.'), slash = png.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? png.substr(0, dot) : png) + ".json";
}

void run_dream(const DreamCommand& o) {
  const DreamSettings& s = o.settings;
  usage_check(!(o.layer_given && o.objective_given), "dream: give --layer or --objective, not both");
  usage_check(!(s.guide.size() && o.objective_given), "dream: --guide matches the guide at --layer; give --guide or "
              "--objective, not both");
  check_output_dir(o.out);
  const Image photo = read_image(o.image);
  const OwnedTensor image = image_to_tensor(photo);
  if (!s.guide.empty()) read_image(s.guide);  // an unreadable guide fails here, before the model loads

  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();

  ProgressBar bar(o.run.quiet);
  const int total = s.octaves * s.iters;
  const DreamResult r = dream(net, s, image, [&](const DreamProgress& p) {
    const int done = p.octave * p.steps + p.step;
    const double rate = p.seconds > 0 ? done / p.seconds : 0.0;
    bar.update(double(done) / total,
               cat("octave ", p.octave + 1, "/", p.octaves, "  step ", p.step, "/", p.steps, "  objective ", p.objective,
                   "  ETA ", format_seconds(rate > 0 ? (total - done) / rate : -1)),
               done == total);
  });
  write_png(o.out, tensor_to_image(r.image, 0));

  nlohmann::json j = settings_to_json(s);
  j["command"] = "dream";
  j["objective_text"] = s.objective_text();
  j["model"] = o.model.model;
  j["model_name"] = model_name;
  j["image"] = o.image;
  j["height"] = r.image.h();
  j["width"] = r.image.w();
  j["receptive_field"] = r.receptive_field;
  j["device"] = device_name(net.device());
  j["backend"] = o.run.backend;
  nlohmann::json octaves = nlohmann::json::array();
  for (const DreamOctave& d : r.octaves)
    octaves.push_back({{"height", d.height},
                       {"width", d.width},
                       {"tiled", d.tiled},
                       {"objective_start", d.objective_start},
                       {"objective_end", d.objective_end}});
  j["octaves_run"] = octaves;  // smallest first
  j["seconds"] = r.seconds;
  j["png"] = o.out;
  write_file_atomic(json_path(o.out), j.dump(2) + "\n");
  const DreamOctave& last = r.octaves.back();
  std::printf("%s: objective %.6g -> %.6g at %dx%d (%d octaves, %d steps each) in %.2f s -> %s\n",
              s.objective_text().c_str(), r.octaves.front().objective_start, last.objective_end, r.image.w(),
              r.image.h(), s.octaves, s.iters, r.seconds, o.out.c_str());
}

}  // namespace

Command add_dream_command(CLI::App& app) {
  auto o = std::make_shared<DreamCommand>();
  CLI::App* cmd = app.add_subcommand("dream", "DeepDream: grow what a layer sees in a photo (google/deepdream)");
  add_model_options(cmd, o->model);
  cmd->add_option("image", o->image, "The photo (PNG or JPEG); the output keeps its size")->required();
  add_settings_options(cmd, o->settings);
  // An expression that does not parse is a usage error (exit 2); names are checked against the
  // network once it is loaded (an unknown layer is a failure at run time, exit 1).
  cmd->get_option("--objective")->check(parses_with(parse_objective));
  cmd->add_option("-o,--out", o->out, "Output PNG (written atomically; OUT.json beside it)")->required();
  add_run_options(cmd, o->run);
  return {cmd, [o, cmd] {
            o->layer_given = cmd->get_option("--layer")->count() > 0;
            o->objective_given = cmd->get_option("--objective")->count() > 0;
            run_dream(*o);
          }};
}

}  // namespace cuviz::app
