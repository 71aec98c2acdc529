// `cuviz grid MODEL IMAGE --layer L -o DIR`: the activation grid (viz/activation_grid.h): every
// position's activation vector on the photo rendered and laid out as the layer's grid, beside the
// photo, with a progress bar over the cells; the page (index.html, photo.png, grid.png, grid.json)
// is built in a temporary directory and renamed to DIR.
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
#include "viz/activation_grid.h"
#include "viz/groups.h"

namespace cuviz::app {

namespace {

struct GridCommand {
  ModelOptions model;
  GridSettings settings;
  RunOptions run;
  std::string image, out;
};

void run_grid(GridCommand& o) {
  const GridSettings& s = o.settings;
  check_precision_backend(s.precision, o.run.backend);
  AtomicDirectory dir(o.out, "grid.json");
  const Image photo = read_image(o.image);
  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();
  const PhotoInput in = photo_input(net, photo);
  int height = 0, width = 0;
  const Matrix x = layer_activations(net, in.input, s.layer, height, width);
  ProgressBar bar(o.run.quiet);
  const GridResult g = render_activation_grid(net, x, height, width, s, [&](const GridProgress& p) {
    const double cells = p.done + double(p.batch_size) * p.batch_step / std::max(1, p.batch_steps);
    const double rate = p.seconds > 0 ? cells / p.seconds : 0.0;
    bar.update(cells / p.total,
               cat(p.done, "/", p.total, " cells  ETA ", format_seconds(rate > 0 ? (p.total - cells) / rate : -1)),
               p.done == p.total && p.batch_step == 0);
  });
  nlohmann::json info = settings_to_json(s);
  info["command"] = "grid";
  info["model"] = o.model.model;
  info["model_name"] = model_name;
  info["image"] = o.image;
  info["device"] = device_name(net.device());
  write_grid_page(dir.path(), in.image, g, info);
  dir.commit();
  std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(o.out) / "index.html").lexically_normal().c_str());
}

}  // namespace

Command add_grid_command(CLI::App& app) {
  auto o = std::make_shared<GridCommand>();
  CLI::App* cmd = app.add_subcommand("grid", "Activation grid: render the activation vector at every position of a layer");
  add_model_options(cmd, o->model);
  cmd->add_option("image", o->image, "The photo (PNG or JPEG), centre-cropped and resized as for classify")->required();
  add_settings_options(cmd, o->settings);
  cmd->add_option("-o,--out", o->out, "Output directory (new, empty, or an earlier grid page, which is replaced)")
      ->required();
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_grid(*o); }};
}

}  // namespace cuviz::app
