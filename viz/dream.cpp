// DeepDream (viz/dream.h): settings -> the render loop's options, the receptive-field check for
// tiles, and render_octaves on the photo's network input.
#include "viz/dream.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "core/suggest.h"

#include "io/image.h"
#include "viz/image_source.h"
#include "viz/invert.h"
#include "viz/octaves.h"

namespace cuviz {

int receptive_field(const Graph& graph, const std::string& blob) {
  struct Field {
    int64_t rf = 1, jump = 1;
  };
  const int64_t input_side = std::max(graph.input_shape.h, graph.input_shape.w);
  std::map<std::string, Field> at;
  at[graph.input] = Field{};
  for (const LayerDesc& l : graph.layers) {
    Field f{0, 1};
    for (const auto& in : l.inputs) {
      const auto it = at.find(in);
      if (it == at.end()) continue;  // a weight or constant blob
      f.rf = std::max(f.rf, it->second.rf);
      f.jump = std::max(f.jump, it->second.jump);
    }
    if (f.rf == 0) f = Field{};
    if (l.kind == LayerKind::conv && !l.weights.empty()) {
      const int64_t k = std::max(l.weights[0].h(), l.weights[0].w());
      const int64_t d = std::max(l.conv.dilation_h, l.conv.dilation_w);
      f.rf += (k - 1) * d * f.jump;
      f.jump *= std::max(l.conv.stride_h, l.conv.stride_w);
    } else if (l.kind == LayerKind::pool) {
      if (l.pool.global) {
        f.rf = std::max(f.rf, input_side);
      } else {
        const int64_t k = std::max(l.pool.kernel_h, l.pool.kernel_w);
        const int64_t d = std::max(l.pool.dilation_h, l.pool.dilation_w);
        f.rf += (k - 1) * d * f.jump;
        f.jump *= std::max(l.pool.stride_h, l.pool.stride_w);
      }
    } else if (l.kind == LayerKind::linear || l.kind == LayerKind::flatten) {
      f.rf = std::max(f.rf, input_side);
    }
    at[l.output] = f;
  }
  std::string name = blob;
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ":pre") == 0) name.resize(name.size() - 4);
  for (const LayerDesc& l : graph.layers)  // a layer name stands for its output
    if (l.name == name && !at.count(name)) name = l.output;
  const auto it = at.find(name);
  if (it == at.end()) {
    std::vector<std::string> names;
    for (const auto& [b, f] : at) names.push_back(b);
    const std::string hint = did_you_mean(name, names, std::max<size_t>(2, name.size() / 4), 3);
    throw Error(cat("network '", graph.name, "': unknown layer or blob '", blob, "'", hint));
  }
  return int(std::min<int64_t>(it->second.rf, 1 << 30));
}

RenderOptions dream_options(const DreamSettings& s, Device device) {
  check_settings(s);
  RenderOptions o;
  o.device = device;
  o.param = ParamKind::input;
  o.transforms = TransformSpec::none();
  o.relu_override_steps = 0;
  o.seed = s.seed;
  o.steps = s.iters;
  o.ops.roll = s.jitter;
  o.ops.grad_norm = GradNorm::mean_abs;
  o.ops.clip = true;
  o.optimizer = OptimizerKind::sgd;
  o.sgd.lr = float(s.step);
  o.sgd.momentum = 0.f;
  o.tile = s.tile;
  o.progress_every = 1;
  return o;
}

Objective dream_objective(const Network& net, const DreamSettings& s) {
  if (s.guide.empty()) return resolve_objective(parse_objective(s.objective_text()), net.graph());
  CUVIZ_CHECK(s.objective.empty(), "dream: a guided dream matches the guide at --layer; give --guide or --objective, "
              "not both");
  // google/deepdream: the guide is preprocessed at its own size and run to the layer once.
  const OwnedTensor x = input_from_image(image_to_tensor(read_image(s.guide)), net.graph().meta);
  return guide(s.layer, layer_features(net, s.layer, x));
}

DreamResult dream(const Network& net, const DreamSettings& s, const Tensor& image,
                  const std::function<void(const DreamProgress&)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  CUVIZ_CHECK(image.device() == Device::cpu && image.n() == 1 && image.c() == 3, "dream: expects one CPU RGB image "
              "(1, 3, H, W), got ", image.shape().str());
  const RenderOptions o = dream_options(s, net.device());
  const Objective objective = dream_objective(net, s);
  DreamResult result;
  for (const auto& layer : objective_layers(objective))
    result.receptive_field = std::max(result.receptive_field, receptive_field(net.graph(), layer));
  CUVIZ_CHECK(s.tile >= result.receptive_field, "dream: tile ", s.tile, " px is smaller than the receptive field of ",
              s.objective_text(), " (", result.receptive_field, " px); use --tile ", result.receptive_field,
              " or more");
  const OctaveSpec spec{.octaves = s.octaves, .scale = float(s.octave_scale), .steps = s.iters};
  const OwnedTensor base = input_from_image(image, net.graph().meta);

  int octave = 0;
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const OctaveResult r = render_octaves(net, {objective}, o, base, spec, [&](const RenderProgress& p) {
    if (progress) {
      DreamProgress d;
      d.octave = octave;
      d.octaves = s.octaves;
      d.step = p.step;
      d.steps = p.steps;
      d.objective = p.objective.empty() ? 0.0 : p.objective[0];
      d.seconds = seconds();
      progress(d);
    }
    if (p.step == p.steps) ++octave;
  });
  result.image = OwnedTensor(r.images.shape());
  copy(r.images, result.image);
  for (size_t k = 0; k < r.sizes.size(); ++k) {
    DreamOctave d;
    d.height = r.sizes[k];
    d.width = r.widths[k];
    d.tiled = d.height > s.tile || d.width > s.tile;
    d.objective_start = r.objective_start[k][0];
    d.objective_end = r.objective[k][0];
    result.octaves.push_back(d);
  }
  result.seconds = seconds();
  return result;
}

}  // namespace cuviz
