// `cuviz classify MODEL IMAGE...`: preprocess each image as the model was trained (centre crop,
// bilinear resize, channel order, mean), run the network on the batch, turn the last layer into
// probabilities p_k = exp(z_k - max z) / sum_j exp(z_j - max z) unless it already is a softmax,
// and print the top-k classes with their labels.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>

#include "apps/common.h"
#include "io/image.h"
#include "io/labels.h"
#include "loaders/model.h"
#include "loaders/preprocess.h"
#include "nn/network.h"

namespace cuviz::app {

namespace {

struct ClassifyOptions {
  ModelOptions model;
  std::vector<std::string> images;
  int top = 5;
  std::string labels;
  std::string device = "auto", backend = "native";
};

// Softmax over the channels of image i of a CPU tensor {N, K, 1, 1}, in double.
std::vector<double> softmax_of(const Tensor& logits, int i) {
  const float* z = logits.image(i);
  const int64_t k = logits.shape().image_size();
  const double zmax = *std::max_element(z, z + k);
  std::vector<double> p(static_cast<size_t>(k));
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += p[size_t(j)] = std::exp(double(z[j]) - zmax);
  for (double& v : p) v /= sum;
  return p;
}

void run_classify(const ClassifyOptions& o) {
  Graph graph = load_model(o.model);
  CUVIZ_CHECK(!graph.layers.empty(), "classify: model ", graph.name, " has no layers");
  std::vector<Image> images;
  for (const auto& path : o.images) images.push_back(read_image(path));
  const std::string labels_path = o.labels.empty() ? graph.meta.labels : o.labels;
  const std::vector<Label> labels = labels_path.empty() ? std::vector<Label>{} : read_labels(labels_path);

  const OwnedTensor x = preprocess(images, graph.meta);
  const std::string last_name = graph.layers.back().name, last_output = graph.layers.back().output;
  const bool is_softmax = graph.layers.back().kind == LayerKind::softmax;
  const Network net = make_network(std::move(graph), o.device, o.backend);
  Plan plan = net.plan(x.shape(), {last_output});
  // The plan knows the output shape: check it and the labels before spending time on the forward.
  const Tensor out = net.activation(plan, last_output);
  CUVIZ_CHECK(out.h() == 1 && out.w() == 1, "classify: the last layer ", last_name, " gives ", out.shape().str(),
              ", not one score per class");
  CUVIZ_CHECK(labels.empty() || int(labels.size()) == out.c(), "classify: ", labels_path, " has ", labels.size(),
              " labels but the model has ", out.c(), " classes");
  print_device_notice();
  net.forward(plan, x);
  OwnedTensor scores(out.shape());
  net.read_activation(plan, last_output, scores);

  const int k = std::min(o.top, out.c());
  for (int i = 0; i < scores.n(); ++i) {
    std::vector<double> p;
    if (is_softmax)
      p.assign(scores.image(i), scores.image(i) + out.c());
    else
      p = softmax_of(scores, i);
    std::vector<int> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b); });
    std::printf("%s\n", o.images[size_t(i)].c_str());
    for (int r = 0; r < k; ++r) {
      const int c = order[size_t(r)];
      const std::string name = labels.empty() ? "" : labels[size_t(c)].short_name();
      std::printf("  %.4f  %4d  %s\n", p[size_t(c)], c, name.c_str());
    }
  }
}

}  // namespace

Command add_classify_command(CLI::App& app) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand("classify", "Top-k ImageNet classes of images (PNG or JPEG)");
  add_model_options(cmd, o->model);
  cmd->add_option("images", o->images, "Images to classify")->required();
  cmd->add_option("--top", o->top, "How many classes to print per image")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--labels", o->labels, "Labels file (default: the one found beside the model)");
  add_device_option(cmd, o->device);
  add_backend_option(cmd, o->backend);
  return {cmd, [o] { run_classify(*o); }};
}

}  // namespace cuviz::app
