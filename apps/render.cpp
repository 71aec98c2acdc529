// `cuviz render MODEL --objective EXPR -o out.png`: activation maximization (viz/render.h) with a
// progress bar on stderr; writes the PNG (a horizontal strip for a batch, plus out_<i>.png), an
// optional .npy of the final images and out.json with every setting, objective and timing.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/profile.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "nn/network.h"
#include "viz/render.h"

namespace cuviz::app {

namespace {

struct RenderCliOptions {
  ModelOptions model;
  std::vector<std::string> objectives;
  int size = 224, steps = 512, batch = 1, save_every = 0, relu_override = 0, profile = 0;
  std::string param = "fourier", transforms = "standard", device = "auto", backend = "native", precision = "fp32", out,
      npy;
  double lr = 0.05;
  uint64_t seed = 0;
  bool quiet = false, no_cuda_graph = false;
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

void write_images(const std::string& png, const Tensor& images) {
  if (images.n() == 1) {
    write_png(png, tensor_to_image(images, 0));
    return;
  }
  write_png(png, strip(images));
  for (int i = 0; i < images.n(); ++i) write_png(with_suffix(png, cat("_", i, ".png")), tensor_to_image(images, i));
}

// One progress line: redrawn in place on a terminal, a line every 5 s otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(bool quiet) : quiet_(quiet), tty_(::isatty(2)) {}
  void update(const RenderProgress& p) {
    if (quiet_) return;
    if (!tty_ && p.step != p.steps && p.seconds - last_ < 5.0) return;
    last_ = p.seconds;
    double mean = 0;
    for (double v : p.objective) mean += v;
    mean /= double(std::max<size_t>(p.objective.size(), 1));
    const double rate = p.seconds > 0 ? p.step / p.seconds : 0.0;
    const double eta = rate > 0 ? (p.steps - p.step) / rate : 0.0;
    const int width = 30, filled = p.steps ? width * p.step / p.steps : width;
    std::fprintf(stderr, "%s[%.*s%*s] %d/%d  objective %.4g  %.2f steps/s  ETA %.0fs%s", tty_ ? "\r" : "", filled,
                 "##############################", width - filled, "", p.step, p.steps, mean, rate, eta,
                 tty_ ? "" : "\n");
    if (tty_ && p.step == p.steps) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool quiet_, tty_;
  double last_ = -1e9;
};

void run_render(const RenderCliOptions& o) {
  CUVIZ_CHECK(!o.out.empty() || o.profile > 0, "render: -o out.png is required");
  if (!o.out.empty()) check_output_dir(o.out);
  if (!o.npy.empty()) check_output_dir(o.npy);
  CUVIZ_CHECK(o.batch >= 1, "render: --batch ", o.batch, " must be >= 1");
  const Precision precision = parse_precision(o.precision);
  check_precision(precision, parse_backend(o.backend));
  CUVIZ_CHECK(o.objectives.size() == 1 || int(o.objectives.size()) == o.batch, "render: ", o.objectives.size(),
              " objectives for --batch ", o.batch, " (give one for all images or one per image)");
  std::vector<Objective> objectives;
  for (const auto& text : o.objectives) objectives.push_back(parse_objective(text));

  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  RenderOptions ro;
  ro.size = o.size;
  ro.steps = o.steps;
  ro.batch = o.batch;
  ro.param = parse_param_kind(o.param.c_str());
  ro.transforms = TransformSpec::parse(o.transforms);
  ro.adam.lr = float(o.lr);
  ro.seed = o.seed;
  ro.relu_override_steps = o.relu_override;
  ro.precision = precision;
  const Network net = make_network(std::move(graph), o.device, o.backend);
  print_device_notice();
  ro.device = net.device();
  ro.cuda_graph = !o.no_cuda_graph;
  if (o.profile > 0) return profile_render(net, objectives, ro, o.profile);
  if (o.save_every > 0)
    for (int s = o.save_every; s < o.steps; s += o.save_every) ro.checkpoints.push_back(s);
  ro.progress_every = std::max(1, std::min(16, o.save_every > 0 ? o.save_every : 16));

  ProgressBar bar(o.quiet);
  const RenderResult r = render(net, objectives, ro, [&](const RenderProgress& p) {
    bar.update(p);
    if (p.images) write_images(with_suffix(o.out, cat("_step", p.step, ".png")), *p.images);
  });
  write_images(o.out, r.images);
  if (!o.npy.empty()) write_npy(o.npy, r.images);

  nlohmann::json j;
  j["command"] = "render";
  j["model"] = o.model.model;
  j["model_name"] = model_name;
  j["objectives"] = o.objectives;
  j["size"] = o.size;
  j["steps"] = o.steps;
  j["batch"] = o.batch;
  j["param"] = o.param;
  j["transforms"] = o.transforms;
  j["lr"] = o.lr;
  j["seed"] = o.seed;
  j["relu_override_steps"] = o.relu_override;
  j["device"] = device_name(ro.device);
  j["backend"] = o.backend;
  j["precision"] = o.precision;
  j["objective_final"] = r.objective;  // per image, without transforms
  j["history_steps"] = r.history_steps;
  j["history"] = r.history;           // per recorded step, per image, with transforms
  j["setup_seconds"] = r.setup_seconds;
  j["seconds"] = r.seconds;
  j["steps_per_second"] = r.seconds > 0 ? o.steps / r.seconds : 0.0;
  j["png"] = o.out;
  if (!o.npy.empty()) j["npy"] = o.npy;
  write_file_atomic(with_suffix(o.out, ".json"), j.dump(2) + "\n");
  double mean = 0;
  for (double v : r.objective) mean += v;
  std::printf("%s: objective %.6g (mean of %d, without transforms), %d steps in %.2f s -> %s\n",
              o.objectives.size() == 1 ? o.objectives[0].c_str() : "objectives", mean / double(r.objective.size()),
              int(r.objective.size()), o.steps, r.seconds, o.out.c_str());
}

}  // namespace

Command add_render_command(CLI::App& app) {
  auto o = std::make_shared<RenderCliOptions>();
  CLI::App* cmd = app.add_subcommand("render", "Activation maximization: render what a channel, neuron or class wants");
  add_model_options(cmd, o->model);
  cmd->add_option("--objective", o->objectives,
                  "Objective, e.g. inception_4a/output:97, logit:285, deepdream(L), 'L:10 - 100*diversity(L2)', "
                  "'-0.25*tv'; repeat once per image for a batch")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--size", o->size, "Image height and width in pixels")->capture_default_str();
  cmd->add_option("--steps", o->steps, "Optimization steps")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images rendered together")->capture_default_str();
  cmd->add_option("--param", o->param, "Image parameterization")
      ->check(CLI::IsMember({"fourier", "fft", "pixel"}))
      ->capture_default_str();
  cmd->add_option("--transforms", o->transforms, "Transformation robustness")
      ->check(CLI::IsMember({"standard", "none"}))
      ->capture_default_str();
  cmd->add_option("--lr", o->lr, "Adam learning rate")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the initialisation and the transform draws")->capture_default_str();
  cmd->add_option("--relu-override", o->relu_override,
                  "Steps with Lucid's redirected ReLU gradient (Lucid uses 16; 0 = off)")
      ->capture_default_str();
  cmd->add_option("--save-every", o->save_every, "Also write out_step<K>.png every K steps")->capture_default_str();
  cmd->add_option("-o,--out", o->out, "Output PNG (written atomically; out.json beside it); required unless --profile");
  cmd->add_option("--npy", o->npy, "Also write the final images as float32 .npy (N, 3, H, W) in [0, 1]");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
  cmd->add_flag("--no-cuda-graph", o->no_cuda_graph,
                "GPU: launch every kernel of every step instead of replaying one CUDA graph per step (profiling)");
  add_device_option(cmd, o->device);
  add_backend_option(cmd, o->backend);
  add_precision_option(cmd, o->precision);
  add_profile_option(cmd, o->profile);
  return {cmd, [o] { run_render(*o); }};
}

}  // namespace cuviz::app
