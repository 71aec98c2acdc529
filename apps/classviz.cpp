// `cuviz classviz MODEL --class N|NAME -o OUT.png`: Simonyan's class model, and
// `cuviz fool MODEL --class N -o OUT.png [--from noise|PHOTO]`: a fooling image that stops when the
// written 8-bit PNG reaches the target confidence (viz/class_model.h). Both print the shared
// progress bar, write the PNG and OUT.json (every setting, the class, the final logit and softmax
// of the class on the written PNG) atomically, and leave no file on failure.
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
#include "io/labels.h"
#include "loaders/preprocess.h"
#include "viz/class_model.h"

namespace cuviz::app {

namespace {

struct ClassvizCommand {
  ModelOptions model;
  ClassModelSettings settings;
  RunOptions run;
  std::string out;
  std::string display;  // a contrast-stretched copy for people to look at ("" = none)
};

struct FoolCommand {
  ModelOptions model;
  FoolSettings settings;
  RunOptions run;
  std::string out;
};

std::string json_path(const std::string& png) {
  const size_t dot = png.rfind('.'), slash = png.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? png.substr(0, dot) : png) + ".json";
}

// The model, its network on the chosen device, its labels and the class the user named.
struct Loaded {
  std::string model_name;
  std::unique_ptr<Network> net;
  std::vector<Label> labels;
  int k = -1;
  std::string label() const { return k >= 0 && size_t(k) < labels.size() ? labels[size_t(k)].short_name() : ""; }
};

Loaded load(const ModelOptions& model, const RunOptions& run, int size) {
  Graph graph = load_model(model);
  // The logit is the whole network's output: smaller images do not reach it (a fixed-size pool).
  CUVIZ_CHECK(size >= graph.meta.input_size, "--size ", size, " is smaller than ", graph.name, "'s input size ",
              graph.meta.input_size, ", which the class logit needs");
  Loaded l;
  l.model_name = graph.name;
  if (!graph.meta.labels.empty()) l.labels = read_labels(graph.meta.labels);
  l.net = std::make_unique<Network>(make_network(std::move(graph), run.device, run.backend));
  return l;
}

nlohmann::json score_json(const ClassScore& s, const Loaded& l) {
  nlohmann::json j;
  j["logit"] = s.logit;
  j["softmax"] = s.p;
  j["top_class"] = s.top;
  j["top_label"] = s.top >= 0 && size_t(s.top) < l.labels.size() ? l.labels[size_t(s.top)].short_name() : "";
  j["top_softmax"] = s.top_p;
  return j;
}

void run_classviz(const ClassvizCommand& o) {
  const ClassModelSettings& s = o.settings;
  usage_check(!o.out.empty(), "classviz: -o out.png is required");
  check_output_dir(o.out);
  usage_check(o.display.empty() || o.display != o.out, "classviz: --display must name another file than -o");
  if (!o.display.empty()) check_output_dir(o.display);
  Loaded l = load(o.model, o.run, s.size);
  const Network& net = *l.net;
  ImageScorer scorer(net);
  l.k = resolve_class(s.class_name, l.labels, scorer.num_classes());
  print_device_notice();

  ProgressBar bar(o.run.quiet);
  const ClassModelResult r = class_model(net, l.k, s, !o.run.no_cuda_graph, [&](const ClassModelProgress& p) {
    const double rate = p.seconds > 0 ? p.step / p.seconds : 0.0;
    const std::string octave = p.octaves > 1 ? cat("octave ", p.octave + 1, "/", p.octaves, "  ") : "";
    bar.update((p.octave + (p.steps ? double(p.step) / p.steps : 1.0)) / p.octaves,
               cat(octave, p.step, "/", p.steps, " steps  logit ", p.logit, "  ", std::round(rate * 100) / 100,
                   " steps/s  ETA ", format_seconds(rate > 0 ? (p.steps - p.step) / rate : -1)),
               p.step == p.steps && p.octave + 1 == p.octaves);
  });
  const Image png = tensor_to_image(r.images, 0);
  const ClassScore score = scorer.score(png, l.k);  // what `cuviz classify OUT.png` will say

  nlohmann::json j = settings_to_json(s);
  j["command"] = "classviz";
  j["model"] = o.model.model;
  j["model_name"] = l.model_name;
  j["class_index"] = l.k;
  j["class_label"] = l.label();
  j["objective"] = s.method == "simonyan" ? cat("logit:", l.k, " - ", s.lambda, "*||x||^2") : cat("logit:", l.k);
  j["device"] = device_name(net.device());
  j["width"] = png.width;
  j["height"] = png.height;
  j["logit_final"] = r.logit;  // of the float image optimised (deepdraw: its centre crop)
  j["png"] = score_json(score, l);     // of the written 8-bit PNG, through classify's preprocessing
  if (s.method == "deepdraw") {
    nlohmann::json octs = nlohmann::json::array();
    for (size_t i = 0; i < r.octave_sizes.size(); ++i) {
      const DeepdrawOctave& d = deepdraw_octaves()[i];
      octs.push_back({{"size", r.octave_sizes[i]}, {"scale", d.scale}, {"iters", d.iters},
                      {"sigma_start", d.sigma_start}, {"sigma_end", d.sigma_end}, {"step_start", d.step_start},
                      {"step_end", d.step_end}, {"crop", net.graph().meta.input_size},
                      {"logit_start", r.octave_logit_start[i]}, {"logit_end", r.octave_logit_end[i]}});
    }
    j["octaves"] = octs;
  }
  j["history_steps"] = r.history_steps;
  j["history"] = r.history;
  j["seconds"] = r.seconds;
  if (!o.display.empty()) j["display"] = {{"path", o.display}, {"stretch_percent", 0.5}};
  const int steps = r.history_steps.empty() ? 0 : r.history_steps.back();
  write_png(o.out, png);
  if (!o.display.empty()) write_png(o.display, percentile_stretch(png, 0.5));
  write_file_atomic(json_path(o.out), j.dump(2) + "\n");
  std::printf("class %d (%s): logit %.4g, softmax %.4f on the written PNG (top: %d %s %.4f), %d steps in %.2f s -> %s\n",
              l.k, l.label().c_str(), score.logit, score.p, score.top, j["png"]["top_label"].get<std::string>().c_str(),
              score.top_p, steps, r.seconds, o.out.c_str());
}

void run_fool(const FoolCommand& o) {
  const FoolSettings& s = o.settings;
  // fool's loop checks the classifier on the host between its own steps, not through render_loop.
  usage_check(o.run.profile == 0, "fool: --profile is not supported (it profiles the render loop of render, "
              "sweep, classviz, dream, invert, style, grid, groups and facets)");
  usage_check(!o.out.empty(), "fool: -o out.png is required");
  check_output_dir(o.out);
  Image start;
  if (s.from != "noise") start = resize_bilinear(center_square_crop(read_image(s.from)), s.size, s.size);
  Loaded l = load(o.model, o.run, s.size);
  const Network& net = *l.net;
  l.k = resolve_class(s.class_name, l.labels, ImageScorer(net).num_classes());
  print_device_notice();

  ProgressBar bar(o.run.quiet);
  const FoolResult r = fool(net, l.k, s, [&](const FoolProgress& p) {
    const bool reached = p.score.p >= s.target_confidence;
    bar.update(reached ? 1.0 : double(p.step) / p.max_steps,
               cat(p.step, "/", p.max_steps, " steps  logit ", p.objective, "  softmax on the PNG ", p.score.p, " (target ",
                   s.target_confidence, ")"),
               reached || p.step == p.max_steps);
  });
  CUVIZ_CHECK(r.reached, "fool: after ", r.steps, " steps the 8-bit image gives class ", l.k, " (", l.label(),
              ") softmax ", r.score.p, ", below the target ", s.target_confidence,
              " (raise --max-steps or --lr); nothing written");

  nlohmann::json j = settings_to_json(s);
  j["command"] = "fool";
  j["model"] = o.model.model;
  j["model_name"] = l.model_name;
  j["class_index"] = l.k;
  j["class_label"] = l.label();
  j["device"] = device_name(net.device());
  j["steps"] = r.steps;
  j["reached"] = r.reached;
  j["png"] = score_json(r.score, l);
  j["checked_steps"] = r.checked_steps;
  j["checked_softmax"] = r.checked_p;
  j["seconds"] = r.seconds;
  std::string linf;
  if (s.from != "noise") {
    const int d = linf_distance(r.png, start);
    j["linf_distance_bytes"] = d;
    j["linf_distance"] = d / 255.0;
    linf = cat(", L-inf distance from the photo ", d, "/255");
  }
  write_png(o.out, r.png);
  write_file_atomic(json_path(o.out), j.dump(2) + "\n");
  std::printf("reached the target: class %d (%s) softmax %.4f >= %g on the written PNG after %d steps in %.2f s%s -> %s\n",
              l.k, l.label().c_str(), r.score.p, s.target_confidence, r.steps, r.seconds, linf.c_str(), o.out.c_str());
}

}  // namespace

Command add_classviz_command(CLI::App& app) {
  auto o = std::make_shared<ClassvizCommand>();
  CLI::App* cmd = app.add_subcommand("classviz", "Class model: the image a class's logit likes best (Simonyan 2013, or Oygard's deepdraw)");
  add_model_options(cmd, o->model);
  add_settings_options(cmd, o->settings);
  cmd->add_option("-o,--out", o->out, "Output PNG (written atomically; out.json beside it)")->required();
  cmd->add_option("--display", o->display,
                  "Also write a contrast-stretched copy for viewing (0.5/99.5 percentile stretch; -o stays the "
                  "image optimised)");
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_classviz(*o); }};
}

Command add_fool_command(CLI::App& app) {
  auto o = std::make_shared<FoolCommand>();
  CLI::App* cmd = app.add_subcommand("fool", "Fooling image: ascend a class's logit until the PNG is classified with the target confidence");
  add_model_options(cmd, o->model);
  add_settings_options(cmd, o->settings);
  cmd->add_option("-o,--out", o->out, "Output PNG (written atomically; out.json beside it)")->required();
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_fool(*o); }};
}

}  // namespace cuviz::app
