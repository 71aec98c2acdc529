// `cuviz forward MODEL --input x.npy|IMAGE --layer NAME --out y.npy`: runs the network up to one
// layer or blob and writes its activation as a float32 .npy (N, C, H, W), so any intermediate
// result can be compared from NumPy. An image input is preprocessed as for classify; an .npy input
// is taken as the network input itself (already preprocessed, NCHW).
#include <cstdio>
#include <memory>

#include "apps/common.h"
#include "io/image.h"
#include "loaders/model.h"
#include "io/npy.h"
#include "loaders/preprocess.h"
#include "nn/network.h"

namespace cuviz::app {

namespace {

struct ForwardOptions {
  ModelOptions model;
  std::string input, layer, out;
  std::string device = "auto", backend = "native";
};

void run_forward(const ForwardOptions& o) {
  check_output_dir(o.out);
  Graph graph = load_model(o.model);
  const OwnedTensor x = is_npy_path(o.input) ? read_npy_tensor(o.input) : preprocess(read_image(o.input), graph.meta);
  const int channels = graph.input_shape.c > 0 ? graph.input_shape.c : 3;
  CUVIZ_CHECK(x.c() == channels && x.h() > 0 && x.w() > 0, "forward: input ", o.input, " has shape ",
              x.shape().str(), "; model ", graph.name, " takes ", channels, " channels (N, C, H, W)");
  const Network net = make_network(std::move(graph), o.device, o.backend);
  Plan plan = net.plan(x.shape(), {o.layer});
  print_device_notice();
  net.forward(plan, x);
  const Tensor y = net.activation(plan, o.layer);
  OwnedTensor host(y.shape());
  net.read_activation(plan, o.layer, host);
  write_npy(o.out, host);
  std::printf("%s %s -> %s\n", o.layer.c_str(), y.shape().str().c_str(), o.out.c_str());
}

}  // namespace

Command add_forward_command(CLI::App& app) {
  auto o = std::make_shared<ForwardOptions>();
  CLI::App* cmd = app.add_subcommand("forward", "Run a model to one layer and save its activation as .npy");
  add_model_options(cmd, o->model);
  cmd->add_option("--input", o->input, "Network input: an .npy (N, C, H, W), already preprocessed, or an image")
      ->required();
  cmd->add_option("--layer", o->layer, "Layer or blob to save (see cuviz info; `blob:pre` = before an in-place ReLU)")
      ->required();
  cmd->add_option("--out", o->out, "Output .npy file (written atomically)")->required();
  add_device_option(cmd, o->device);
  add_backend_option(cmd, o->backend);
  return {cmd, [o] { run_forward(*o); }};
}

}  // namespace cuviz::app
