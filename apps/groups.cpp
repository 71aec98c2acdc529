// `cuviz groups MODEL IMAGE --layer L --k 6 [--method nmf|pca] -o DIR [--raw]`: neuron groups
// (viz/groups.h; Building Blocks): factor the layer's activations on the photo, render every
// factor's direction in one batch (progress bar), and write the page DIR/index.html with its
// pictures and groups.json (every setting, the error, the factors), all at once: the page is built
// in a temporary directory and renamed to DIR, so an error leaves no partial page.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "io/atomic_dir.h"
#include "io/image.h"
#include "nn/network.h"
#include "viz/groups.h"

namespace cuviz::app {

namespace {

struct GroupsCommand {
  ModelOptions model;
  GroupsSettings settings;
  RunOptions run;
  std::string image, out;
  bool raw = false;
};

void run_groups(GroupsCommand& o) {
  const GroupsSettings& s = o.settings;
  check_precision_backend(s.precision, o.run.backend);
  AtomicDirectory dir(o.out, "groups.json");  // fails here, before any work, on an unusable DIR
  const Image photo = read_image(o.image);
  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();

  const PhotoInput in = photo_input(net, photo);
  int height = 0, width = 0;
  const Matrix x = layer_activations(net, in.input, s.layer, height, width);
  const LayerFactors f = factor_layer(x, height, width, s, net.device());
  std::fprintf(stderr, "%s on %s: %d positions (%dx%d) x %d channels, %s k=%d, relative error %.4f\n", s.layer.c_str(),
               o.image.c_str(), x.rows, height, width, x.cols, s.method.c_str(), s.k, f.relative_error);

  ProgressBar bar(o.run.quiet);
  const RenderResult r = render_factors(net, f, s, [&](const RenderProgress& p) {
    const double rate = p.seconds > 0 ? p.step / p.seconds : 0.0;
    bar.update(double(p.step) / p.steps,
               cat(s.k, " factors  step ", p.step, "/", p.steps, "  ETA ",
                   format_seconds(rate > 0 ? (p.steps - p.step) / rate : -1)),
               p.step == p.steps);
  });

  nlohmann::json info = settings_to_json(s);
  info["command"] = "groups";
  info["model"] = o.model.model;
  info["model_name"] = model_name;
  info["image"] = o.image;
  info["device"] = device_name(net.device());
  info["backend"] = o.run.backend;
  write_groups_page(dir.path(), in.image, f, r, info, o.raw);
  dir.commit();
  std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(o.out) / "index.html").lexically_normal().c_str());
}

}  // namespace

Command add_groups_command(CLI::App& app) {
  auto o = std::make_shared<GroupsCommand>();
  CLI::App* cmd = app.add_subcommand(
      "groups", "Neuron groups (Building Blocks): factor a layer's activations on a photo, render each factor");
  add_model_options(cmd, o->model);
  cmd->add_option("image", o->image, "The photo (PNG or JPEG), centre-cropped and resized as for classify")->required();
  add_settings_options(cmd, o->settings);
  cmd->add_option("-o,--out", o->out, "Output directory (new, empty, or an earlier groups page, which is replaced)")
      ->required();
  cmd->add_flag("--raw", o->raw, "Also write W.npy (positions x k, row-major h, w) and H.npy (k x channels), float32");
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_groups(*o); }};
}

}  // namespace cuviz::app
