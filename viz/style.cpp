// Style transfer (viz/style.h): per scale, the content photo's features and the style images'
// blended Gram matrices are captured once (plain forwards), the loss -(content + style + tv) is
// built from the objective terms (viz/term_style.h), and the render loop runs it with L-BFGS or
// Adam on the network input.
#include "viz/style.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "core/suggest.h"
#include "loaders/preprocess.h"
#include "viz/image_source.h"
#include "viz/octaves.h"
#include "viz/random.h"
#include "viz/term_style.h"

namespace cuviz {

namespace {

constexpr uint64_t kStreamStyleNoise = 0x5354594cULL;  // "STYL": the noise start

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    out.push_back(a == std::string::npos ? "" : item.substr(a, b - a + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<double> number_list(const char* flag, const std::string& text) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    CUVIZ_CHECK(!item.empty() && end && *end == '\0' && std::isfinite(v), "style: ", flag, " '", text, "': '", item,
                "' is not a number");
    out.push_back(v);
  }
  return out;
}

bool graph_has(const Graph& g, const std::string& name) {
  for (const LayerDesc& l : g.layers)
    if (l.name == name || l.output == name) return true;
  return false;
}

// Every layer name and blob of the graph (for the did-you-mean of an unknown layer).
void check_layer(const Graph& g, const std::string& name, const char* flag) {
  if (graph_has(g, name) || (name.size() > 4 && name.ends_with(":pre") && graph_has(g, name.substr(0, name.size() - 4))))
    return;
  std::vector<std::string> names;
  for (const LayerDesc& l : g.layers) {
    names.push_back(l.name);
    names.push_back(l.output);
  }
  throw Error(cat("style: ", flag, ": network '", g.name, "' has no layer or blob '", name, "'",
                  did_you_mean(name, names, std::max<size_t>(2, name.size() / 4), 3)));
}

// The features of `layers` for one network input x (CPU {1, 3, h, w}), on the CPU.
std::vector<OwnedTensor> capture(const Network& net, const Tensor& x, const std::vector<std::string>& layers) {
  Plan plan = net.plan(x.shape(), layers);
  OwnedTensor dev;
  const Tensor* in = &x;
  if (net.device() != Device::cpu) {
    dev = OwnedTensor(x.shape(), net.device());
    copy(x, dev);
    in = &dev;
  }
  net.forward(plan, *in);
  std::vector<OwnedTensor> out;
  for (const std::string& l : layers) {
    const Tensor a = net.activation(plan, l);
    OwnedTensor h(Shape{1, a.c(), a.h(), a.w()});
    copy(a.batch(0, 1), h);
    out.push_back(std::move(h));
  }
  return out;
}

// An 8-bit photo at h x w (Pillow-exact, antialiased when shrinking) as [0, 1] floats.
OwnedTensor photo_at(const Image& image, int h, int w) {
  if (image.height == h && image.width == w) return image_to_tensor(image);
  return image_to_tensor(resize_bilinear(image, w, h));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

StyleLayers style_layers(const Graph& graph, const StyleSettings& s) {
  StyleLayers out;
  // The defaults by model (viz/style.h): Caffe VGG (layer names relu4_2, ...), torchvision VGG
  // (features.N: the same ReLUs by position in the Sequential), GoogLeNet.
  std::string content;
  std::vector<std::string> style;
  std::vector<double> weights;  // default per-layer weights (1 each unless set below)
  if (graph_has(graph, "relu4_2") && graph_has(graph, "relu5_1")) {
    content = "relu4_2";
    style = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"};
  } else if (graph_has(graph, "features.35")) {  // torchvision vgg19
    content = "features.22";
    style = {"features.1", "features.6", "features.11", "features.20", "features.29"};
  } else if (graph_has(graph, "features.29")) {  // torchvision vgg16
    content = "features.20";
    style = {"features.1", "features.6", "features.11", "features.18", "features.25"};
  } else if (graph_has(graph, "inception_3b/output") && graph_has(graph, "inception_4c/output")) {
    content = "inception_3b/output";
    style = {"conv2/3x3", "inception_3a/output", "inception_4a/output", "inception_4b/output", "inception_4c/output"};
    // Under chw normalisation GoogLeNet's 4a-4c Gram matrices are ~100x smaller than conv2's and
    // 3a's (chelsea -> rocket: 10.9, 12.4, 0.11, 0.26, 0.16), so equal weights would leave the
    // deeper layers, whose textures are the larger structures, unmatched; these weights make the
    // layers' shares comparable and, with neural-style's 5 / 100, pull the style in within 20%
    // of the photo's Gram distance (docs/visualization.md, "Style transfer").
    weights = {2, 2, 200, 100, 100};
  }
  out.content = s.content_layer.empty() ? content : s.content_layer;
  CUVIZ_CHECK(!out.content.empty(), "style: no default layers for network '", graph.name,
              "' (defaults exist for VGG and GoogLeNet): give --content-layer and --style-layers");
  if (s.style_layers.empty()) {
    CUVIZ_CHECK(!style.empty(), "style: no default layers for network '", graph.name,
                "' (defaults exist for VGG and GoogLeNet): give --style-layers");
    out.style = style;
  } else {
    weights.clear();
    out.style = split_list(s.style_layers);
  }
  check_layer(graph, out.content, "--content-layer");
  for (const std::string& l : out.style) {
    CUVIZ_CHECK(!l.empty(), "style: --style-layers '", s.style_layers, "' has an empty name");
    check_layer(graph, l, "--style-layers");
  }
  if (s.style_layer_weights.empty()) {
    out.style_weights = weights.size() == out.style.size() ? weights : std::vector<double>(out.style.size(), 1.0);
  } else {
    out.style_weights = number_list("--style-layer-weights", s.style_layer_weights);
    CUVIZ_CHECK(out.style_weights.size() == out.style.size(), "style: --style-layer-weights has ",
                out.style_weights.size(), " weights for ", out.style.size(), " style layers");
    for (double w : out.style_weights) CUVIZ_CHECK(w >= 0, "style: --style-layer-weights: ", w, " is negative");
  }
  return out;
}

std::vector<int> style_scales(const StyleSettings& s) {
  if (s.multiscale.empty()) return {s.size};
  std::vector<int> out;
  for (double v : number_list("--multiscale", s.multiscale)) {
    CUVIZ_CHECK(v == std::floor(v) && v >= 16 && v <= 8192, "style: --multiscale '", s.multiscale, "': ", v,
                " is not a size in 16..8192");
    CUVIZ_CHECK(out.empty() || v > out.back(), "style: --multiscale '", s.multiscale, "' must increase");
    out.push_back(int(v));
  }
  return out;
}

std::vector<double> style_blend(const StyleSettings& s, int n) {
  if (s.style_blend.empty()) return std::vector<double>(size_t(n), 1.0 / n);
  std::vector<double> w = number_list("--style-blend", s.style_blend);
  CUVIZ_CHECK(int(w.size()) == n, "style: --style-blend has ", w.size(), " weight", w.size() == 1 ? "" : "s", " for ",
              n, " style image", n == 1 ? "" : "s");
  double sum = 0;
  for (double v : w) {
    CUVIZ_CHECK(v >= 0, "style: --style-blend: ", v, " is negative");
    sum += v;
  }
  CUVIZ_CHECK(sum > 0, "style: --style-blend weights sum to 0");
  for (double& v : w) v /= sum;
  return w;
}

void style_size(int h, int w, int size, int& out_h, int& out_w) {
  // neural-style: image.scale(img, size) scales the longer side to `size`, keeping the aspect.
  if (h >= w) {
    out_h = size;
    out_w = std::max(1, int(std::lround(double(w) * size / h)));
  } else {
    out_w = size;
    out_h = std::max(1, int(std::lround(double(h) * size / w)));
  }
}

OwnedTensor original_colors(const Tensor& generated, const Tensor& content) {
  CUVIZ_CHECK(generated.shape() == content.shape() && generated.n() == 1 && generated.c() == 3,
              "style: original colours need two RGB images of one size, got ", generated.shape().str(), " and ",
              content.shape().str());
  OwnedTensor out(generated.shape());
  const int64_t hw = int64_t(generated.h()) * generated.w();
  const float* g = generated.data();
  const float* c = content.data();
  float* o = out.data();
  for (int64_t k = 0; k < hw; ++k) {
    // image.rgb2yuv / yuv2rgb of torch's image package (BT.601), as neural-style uses them.
    const float y = 0.299f * g[k] + 0.587f * g[hw + k] + 0.114f * g[2 * hw + k];
    const float u = -0.14713f * c[k] - 0.28886f * c[hw + k] + 0.436f * c[2 * hw + k];
    const float v = 0.615f * c[k] - 0.51499f * c[hw + k] - 0.10001f * c[2 * hw + k];
    o[k] = std::clamp(y + 1.13983f * v, 0.f, 1.f);
    o[hw + k] = std::clamp(y - 0.39465f * u - 0.58060f * v, 0.f, 1.f);
    o[2 * hw + k] = std::clamp(y + 2.03211f * u, 0.f, 1.f);
  }
  return out;
}

StyleResult style_transfer(const Network& net, const StyleSettings& s, const Image& content,
                           const std::vector<Image>& styles, const Image* init_image,
                           const std::function<void(const StyleProgress&)>& progress) {
  check_settings(s);
  CUVIZ_CHECK(!styles.empty(), "style: no style image");
  const auto t0 = std::chrono::steady_clock::now();
  StyleResult res;
  const Graph& graph = net.graph();
  res.layers = style_layers(graph, s);
  res.scales = style_scales(s);
  const std::vector<double> blend = style_blend(s, int(styles.size()));
  const bool noise = s.init == "noise", from_content = s.init == "content";
  CUVIZ_CHECK(noise || from_content || init_image, "style: --init '", s.init,
              "' is neither noise, content nor an image that was read");
  const GramNorm norm = s.gram_norm == "gatys" ? GramNorm::gatys : GramNorm::chw;
  const ModelMeta& meta = graph.meta;
  const Preprocess pre = Preprocess::from_meta(meta);
  // Network-input units per unit of the [0, 1] image (255 for Caffe models): the scale of
  // neural-style's units, in which tv_weight, lr and the noise are given.
  double unit = 0;
  for (int c = 0; c < 3; ++c) unit += std::fabs(pre.scale[c]) / 3;

  OwnedTensor previous;  // the last scale's image, [0, 1]
  OwnedTensor content_now;
  int64_t evaluations = 0;
  for (size_t k = 0; k < res.scales.size(); ++k) {
    const auto t_scale = std::chrono::steady_clock::now();
    int H = 0, W = 0;
    style_size(content.height, content.width, res.scales[k], H, W);
    CUVIZ_CHECK(H >= 8 && W >= 8, "style: the output would be ", W, "x", H, " px (at least 8 px a side)");
    content_now = photo_at(content, H, W);
    const OwnedTensor content_x = input_from_image(content_now, meta);

    // Targets: the content photo's features, and per style layer the blended Gram matrix.
    OwnedTensor p = std::move(capture(net, content_x, {res.layers.content})[0]);
    double p2 = 0;
    for (int64_t e = 0; e < p.numel(); ++e) p2 += double(p.data()[e]) * p.data()[e];
    res.content_mean_square = p2 / double(p.numel());
    std::vector<OwnedTensor> targets;
    const int style_side = std::max(8, int(std::lround(s.style_scale * res.scales[k])));
    for (size_t j = 0; j < styles.size(); ++j) {
      int sh = 0, sw = 0;
      style_size(styles[j].height, styles[j].width, style_side, sh, sw);
      const std::vector<OwnedTensor> f = capture(net, input_from_image(photo_at(styles[j], sh, sw), meta), res.layers.style);
      for (size_t l = 0; l < f.size(); ++l) {
        OwnedTensor g = gram_matrix(f[l], norm);
        if (j == 0) {
          targets.emplace_back(g.shape());
          fill(targets[l], 0.f);
        }
        for (int64_t e = 0; e < g.numel(); ++e) targets[l].data()[e] += float(blend[j]) * g.data()[e];
      }
    }

    // L = wc content + ws sum_l w_l style_l + wt s^2 tv2; the loop maximises -L.
    const Objective content_part = s.content_weight * content_loss(res.layers.content, std::move(p));
    Objective style_sum;
    for (size_t l = 0; l < res.layers.style.size(); ++l) {
      const Objective t = res.layers.style_weights[l] * style_loss(res.layers.style[l], std::move(targets[l]), norm);
      style_sum = style_sum.defined() ? style_sum + t : t;
    }
    const Objective style_part = s.style_weight * style_sum;
    const Objective tv_part = (s.tv_weight * unit * unit) * total_variation_squared();
    const std::vector<Objective> parts = {content_part, style_part, tv_part};
    const Objective objective = -(content_part + style_part + tv_part);

    RenderOptions o;
    o.device = net.device();
    o.size = std::min(4096, std::max(H, W));
    o.height = H;
    o.width = W;
    o.param = ParamKind::input;
    o.transforms = TransformSpec::none();
    o.relu_override_steps = 0;
    o.steps = s.iters;
    o.seed = s.seed;
    o.progress_every = s.progress_every;
    if (s.optimizer == "lbfgs") {
      o.optimizer = OptimizerKind::lbfgs;
      o.lbfgs.history = s.history;
      o.lbfgs.line_search = s.line_search == "strong_wolfe" ? LineSearch::strong_wolfe : LineSearch::fixed;
    } else {
      o.optimizer = OptimizerKind::adam;
      o.adam.lr = float(s.lr * unit / 255.0);
    }
    if (s.save_every > 0)
      for (int t = s.save_every; t <= s.iters; t += s.save_every) o.checkpoints.push_back(t);
    // The start: the previous scale's result, noise, the content photo or the init image.
    OwnedTensor x0;
    if (k > 0) {
      x0 = input_from_image(resize_tensor(previous, H, W), meta);
    } else if (noise) {
      // neural-style: randn * 0.001 in Caffe units, around the dataset mean (x = 0).
      x0 = OwnedTensor(Shape{1, 3, H, W});
      const int64_t hw = int64_t(H) * W;
      for (int c = 0; c < 3; ++c)
        for (int64_t e = 0; e < hw; ++e)
          x0.data()[c * hw + e] =
              float(random_normal(s.seed, kStreamStyleNoise, uint64_t(c * hw + e)) * 0.001 * std::fabs(pre.scale[c]) / 255.0);
    } else if (from_content) {
      x0 = input_from_image(content_now, meta);
    } else {
      x0 = input_from_image(photo_at(*init_image, H, W), meta);
    }
    o.source = ImageSource::from_input(x0);

    Renderer r(net, {objective}, o);
    if (k == 0) {  // the start's losses (one forward, no gradient)
      r.evaluate(0, false);
      const std::vector<double> v = r.part_values(parts);
      res.start_losses = StyleLossPoint{0, 0, 0, v[0], v[1], v[2], v[0] + v[1] + v[2]};
    }
    const int64_t before = evaluations;
    const RenderResult rr = render_loop(r, [&](const RenderProgress& rp) {
      const std::vector<double> v = r.part_values(parts);
      StyleLossPoint pt{int(k), rp.step, before + r.evaluations(), v[0], v[1], v[2], v[0] + v[1] + v[2]};
      res.curve.push_back(pt);
      if (!progress) return;
      StyleProgress sp;
      sp.scale = int(k);
      sp.scales = int(res.scales.size());
      sp.iteration = rp.step;
      sp.iterations = rp.steps;
      sp.losses = pt;
      sp.seconds = seconds_since(t0);
      OwnedTensor shown;
      if (rp.images) {
        shown = s.original_colors ? original_colors(*rp.images, content_now) : OwnedTensor(rp.images->shape());
        if (!s.original_colors) copy(*rp.images, shown);
        sp.image = &shown;
      }
      progress(sp);
    });
    evaluations += rr.evaluations;
    // The output's losses: render_loop evaluated the final image afresh.
    const std::vector<double> v = r.part_values(parts);
    res.final_losses = StyleLossPoint{int(k), rr.steps_run, evaluations, v[0], v[1], v[2], v[0] + v[1] + v[2]};
    CUVIZ_CHECK(std::isfinite(res.final_losses.total), "style: the loss is not finite at scale ", k + 1,
                " (check the weights and the learning rate); nothing was written");
    res.runs.push_back(StyleScaleRun{H, W, rr.steps_run, rr.evaluations, rr.stop, seconds_since(t_scale), rr.seconds});
    previous = OwnedTensor(rr.images.shape());
    copy(rr.images, previous);
  }
  res.image = s.original_colors ? original_colors(previous, content_now) : std::move(previous);
  res.seconds = seconds_since(t0);
  return res;
}

}  // namespace cuviz
