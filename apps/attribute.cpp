// `cuviz attribute MODEL IMAGE --method NAME[,NAME...]|all -o OUT.png`: attribution maps
// (viz/attribute_methods.h) of one photo or preprocessed .npy input for one target class, with
// the progress bar on stderr. Writes
//   OUT.png          the input, then one heat map per method overlaid on it, side by side
//                    (diverging colour map: red raises the score, blue lowers it)
//   OUT.json         every setting, the target (index, label, logit, softmax), per method its
//                    time, raw file, display scale and figures (IG completeness, sanity, faithfulness)
//   OUT.html         with more than one method (or --sanity / --faithfulness): the page a person reads
//   --raw R.npy      the signed raw map before any absolute value or normalisation: [3, H, W] for
//                    pixel methods (the network input's channels and size), [h, w] for Grad-CAM (the
//                    layer's resolution, after the ReLU); several methods: R.<method>.npy each
//   OUT.sanity.png   with --sanity: a row per method, the original map then each randomisation step
// Every argument is checked before any work; nothing is written unless everything succeeded.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "io/atomic_file.h"
#include "io/html.h"
#include "io/image.h"
#include "io/labels.h"
#include "io/npy.h"
#include "nn/network.h"
#include "viz/attribute_methods.h"
#include "viz/attribution_checks.h"
#include "viz/class_model.h"
#include "viz/image_source.h"
#include "viz/method_ops.h"

namespace cuviz::app {

namespace {

struct AttributeCommand {
  ModelOptions model;
  AttributionSettings settings;
  RunOptions run;
  std::string image, out, methods, target = "top", raw;
  bool softmax = false, sanity = false, faithfulness = false, rule_given = false;
  int faithfulness_steps = 32;
};

// "out.png" -> "out" + suffix.
std::string stem_with(const std::string& path, const std::string& suffix) {
  const size_t dot = path.rfind('.'), slash = path.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? path.substr(0, dot) : path) + suffix;
}

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The methods of `text` ("all", or names separated by commas), each once, in the order given.
std::vector<const AttributionMethod*> parse_methods(const std::string& text) {
  std::vector<const AttributionMethod*> out;
  std::string names;
  for (const AttributionMethod& m : attribution_methods()) names += (names.empty() ? "" : ", ") + m.name;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string name = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (name == "all") {
      for (const AttributionMethod& m : attribution_methods())
        if (std::find(out.begin(), out.end(), &m) == out.end()) out.push_back(&m);
      continue;
    }
    const AttributionMethod* m = find_attribution_method(name);
    usage_check(m != nullptr, "attribute: unknown method '", name, "' (methods: ", names, ", or all)");
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

bool uses_layer(const AttributionMethod& m) { return m.name == "grad_cam" || m.name == "guided_grad_cam"; }

// The diverging colour map (ColorBrewer RdBu): v in [-1, 1], white at 0, red for v > 0, blue for v < 0.
void diverging(float v, float rgb[3]) {
  static const float red[3] = {0.70f, 0.09f, 0.17f}, blue[3] = {0.13f, 0.40f, 0.67f};
  const float a = std::min(1.f, std::abs(v));
  const float* end = v >= 0 ? red : blue;
  for (int c = 0; c < 3; ++c) rgb[c] = 1.f + a * (end[c] - 1.f);
}

// A heat map over the image: the image in grey, the colour of v = map / scale blended in with
// opacity |v|^0.5 (small values show the photo). scale: the 99.5th percentile of |map|, so a few
// extreme pixels do not wash out the rest (Captum's visualize_image_attr uses the 98th-99th).
double display_scale(const std::vector<float>& map) {
  std::vector<float> a(map.size());
  for (size_t k = 0; k < map.size(); ++k) a[k] = std::abs(map[k]);
  const size_t q = std::min(a.size() - 1, size_t(0.995 * double(a.size())));
  std::nth_element(a.begin(), a.begin() + std::ptrdiff_t(q), a.end());
  return a[q] > 0 ? a[q] : 1.0;
}

void draw_overlay(const Tensor& image, const std::vector<float>& map, double scale, Image& canvas, int x0, int y0) {
  const int H = image.h(), W = image.w();
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const float grey = 0.299f * image.at(0, 0, y, x) + 0.587f * image.at(0, 1, y, x) + 0.114f * image.at(0, 2, y, x);
      const float v = float(map[size_t(y) * W + x] / scale);
      float rgb[3];
      diverging(v, rgb);
      const float alpha = std::pow(std::min(1.f, std::abs(v)), 0.5f);
      for (int c = 0; c < 3; ++c) {
        const float g = 0.15f + 0.7f * std::clamp(grey, 0.f, 1.f);
        const float o = (1 - alpha) * g + alpha * rgb[c];
        canvas.at(x0 + x, y0 + y, c) = uint8_t(std::lround(std::clamp(o, 0.f, 1.f) * 255.f));
      }
    }
}

void draw_image(const Tensor& image, Image& canvas, int x0, int y0) {
  for (int y = 0; y < image.h(); ++y)
    for (int x = 0; x < image.w(); ++x)
      for (int c = 0; c < 3; ++c)
        canvas.at(x0 + x, y0 + y, c) = uint8_t(std::lround(std::clamp(image.at(0, c, y, x), 0.f, 1.f) * 255.f));
}

Image blank_canvas(int width, int height) {
  Image im;
  im.width = width;
  im.height = height;
  im.pixels.assign(size_t(width) * height * 3, 255);
  return im;
}

constexpr int kGap = 4;  // white pixels between panels

struct MethodRun {
  const AttributionMethod* method = nullptr;
  AttributionMap map;
  std::vector<float> display;
  double scale = 1, seconds = 0;
  std::string raw_file;
  std::vector<SanityStep> sanity;
  Faithfulness faith;
};

void run_attribute(const AttributeCommand& o) {
  AttributionSettings s = o.settings;
  s.softmax = o.softmax;
  // ---- every check before any work --------------------------------------------------------------
  usage_check(o.run.profile == 0, "attribute: --profile is not supported (attribution runs no render loop; it "
              "profiles the render loop of render, sweep, classviz, dream, invert, style, grid, groups and facets)");
  const std::vector<const AttributionMethod*> methods = parse_methods(o.methods);
  const std::vector<std::string> rules = attribution_rules();
  const bool wants_rule = o.rule_given || std::any_of(methods.begin(), methods.end(), [](auto* m) { return m->name == "lrp"; });
  if (wants_rule) {
    std::string known;
    for (const std::string& r : rules) known += (known.empty() ? "" : ", ") + r;
    usage_check(std::find(rules.begin(), rules.end(), s.rule) != rules.end(), "attribute: unknown rule '", s.rule,
                "' (", known.empty() ? std::string("no LRP composites in this build") : "composites: " + known, ")");
  }
  check_output_dir(o.out);
  if (!o.raw.empty()) {
    usage_check(is_npy_path(o.raw), "attribute: --raw ", o.raw, " must end in .npy");
    check_output_dir(o.raw);
  }

  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  const std::vector<Label> labels = graph.meta.labels.empty() ? std::vector<Label>{} : read_labels(graph.meta.labels);
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  const ModelMeta& meta = net.graph().meta;
  const OwnedTensor x = load_network_input(o.image, meta, 1, meta.input_size);

  // The logits, the target and its scores.
  const std::string logit_layer = class_logit_layer(net.graph());
  Plan plan = net.plan(x.shape(), {logit_layer});
  const Tensor out_blob = net.activation(plan, logit_layer);
  const int classes = int(out_blob.shape().image_size());
  int target = -1;
  if (o.target != "top") {
    try {
      target = resolve_class(o.target, labels, classes);
    } catch (const Error& e) {
      throw UsageError(cat("attribute: --target: ", e.what()));
    }
  }
  for (const AttributionMethod* m : methods)
    if (uses_layer(*m)) {
      s.layer = grad_cam_layer(net, x.shape(), s.layer);  // unknown or non-spatial: one clear error
      break;
    }
  print_device_notice();
  net.forward(plan, x);
  OwnedTensor logits(out_blob.shape());
  net.read_activation(plan, logit_layer, logits);
  if (target < 0) target = int(std::max_element(logits.data(), logits.data() + classes) - logits.data());
  double zmax = logits.data()[0], zsum = 0;
  for (int k = 0; k < classes; ++k) zmax = std::max(zmax, double(logits.data()[k]));
  for (int k = 0; k < classes; ++k) zsum += std::exp(double(logits.data()[k]) - zmax);
  const double logit = logits.data()[target], prob = std::exp(logit - zmax) / zsum;
  const std::string label = size_t(target) < labels.size() ? labels[size_t(target)].short_name() : "";

  // ---- the methods ------------------------------------------------------------------------------
  ProgressBar bar(o.run.quiet);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const int M = int(methods.size());
  // Work units: one per method, one per method for each check asked for.
  const int units = M * (1 + (o.sanity ? 1 : 0) + (o.faithfulness ? 1 : 0));
  int unit = 0;
  auto report = [&](const std::string& what, double f) {
    const double done = (unit + std::clamp(f, 0.0, 1.0)) / units, t = elapsed();
    bar.update(done, cat(what, "  ETA ", format_seconds(done > 0 ? t * (1 - done) / done : -1)), false);
  };
  std::vector<MethodRun> runs;
  const int H = x.h(), W = x.w();
  for (const AttributionMethod* m : methods) {
    MethodRun r;
    r.method = m;
    const auto m0 = std::chrono::steady_clock::now();
    r.map = m->run(net, x, {target}, s, [&](double f) { report(cat(m->name, " (", unit + 1, "/", units, ")"), f); });
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
    for (int64_t e = 0; e < r.map.raw.numel(); ++e)
      CUVIZ_CHECK(std::isfinite(r.map.raw.data()[e]), "attribute: ", m->name, " gave a non-finite value");
    r.display = display_map(r.map, m->display, 0, H, W);
    r.scale = display_scale(r.display);
    runs.push_back(std::move(r));
    ++unit;
  }
  if (o.faithfulness)
    for (MethodRun& r : runs) {
      report(cat("faithfulness ", r.method->name), 0);
      r.faith = deletion_insertion(net, x, target, r.display, o.faithfulness_steps, s.batch);
      ++unit;
    }
  if (o.sanity) {
    Network randomized = make_network(load_model(o.model), o.run.device, o.run.backend);
    for (MethodRun& r : runs) {
      // Each method's cascade starts from the trained weights: a fresh copy per method.
      if (&r != &runs.front()) randomized = make_network(load_model(o.model), o.run.device, o.run.backend);
      r.sanity = cascading_randomization(randomized, *r.method, x, target, s, r.display, s.seed + 1, [&](double f) {
        report(cat("sanity ", r.method->name), f);
      });
      ++unit;
    }
  }
  bar.update(1.0, cat(M, " method", M > 1 ? "s" : "", " in ", format_seconds(elapsed())), true);

  // ---- outputs (all computed; written last) -----------------------------------------------------
  OwnedTensor image(x.shape());
  input_to_image(Preprocess::from_meta(meta), x, image);
  Image canvas = blank_canvas((M + 1) * W + M * kGap, H);
  draw_image(image, canvas, 0, 0);
  for (int k = 0; k < M; ++k) draw_overlay(image, runs[size_t(k)].display, runs[size_t(k)].scale, canvas, (k + 1) * (W + kGap), 0);

  Image sanity_canvas;
  int sanity_cols = 0;
  if (o.sanity) {
    sanity_cols = 2 + int(runs.front().sanity.size());
    sanity_canvas = blank_canvas(sanity_cols * W + (sanity_cols - 1) * kGap, M * H + (M - 1) * kGap);
    for (int k = 0; k < M; ++k) {
      const MethodRun& r = runs[size_t(k)];
      const int y0 = k * (H + kGap);
      draw_image(image, sanity_canvas, 0, y0);
      draw_overlay(image, r.display, r.scale, sanity_canvas, W + kGap, y0);
      for (size_t j = 0; j < r.sanity.size(); ++j)
        draw_overlay(image, r.sanity[j].map, display_scale(r.sanity[j].map), sanity_canvas, int(j + 2) * (W + kGap), y0);
    }
  }

  // Raw maps: [3, H, W] or [h, w] for the one image.
  for (MethodRun& r : runs) {
    if (o.raw.empty()) break;
    r.raw_file = M == 1 ? o.raw : stem_with(o.raw, "." + r.method->name + ".npy");
  }

  nlohmann::json j = settings_to_json(s);
  j["command"] = "attribute";
  j["model"] = o.model.model;
  j["model_name"] = model_name;
  j["image"] = o.image;
  j["input_size"] = {H, W};
  j["softmax"] = o.softmax;
  j["target"] = {{"requested", o.target}, {"index", target}, {"label", label}, {"logit", logit}, {"softmax", prob}};
  j["score"] = o.softmax ? "softmax probability" : "pre-softmax logit";
  j["device"] = device_name(net.device());
  j["backend"] = o.run.backend;
  j["png"] = o.out;
  nlohmann::json jm = nlohmann::json::array();
  for (const MethodRun& r : runs) {
    const Shape rs = r.map.raw.shape();
    nlohmann::json e = {{"method", r.method->name},
                        {"description", r.method->description},
                        {"deterministic", r.method->deterministic},
                        {"seconds", r.seconds},
                        {"score", r.map.score.empty() ? 0.0 : r.map.score[0]},
                        {"raw_shape", rs.c == 1 && uses_layer(*r.method) && r.method->name == "grad_cam"
                                          ? std::vector<int>{rs.h, rs.w}
                                          : std::vector<int>{rs.c, rs.h, rs.w}},
                        {"display_scale", r.scale}};
    if (!r.raw_file.empty()) e["raw"] = r.raw_file;
    if (!r.map.layer.empty()) e["layer"] = r.map.layer;
    if (!r.map.completeness_error.empty()) {
      e["baseline_score"] = r.map.baseline_score[0];
      e["completeness_error"] = r.map.completeness_error[0];
      e["completeness_relative"] = r.map.completeness_error[0] / (r.map.score[0] - r.map.baseline_score[0]);
    }
    if (o.faithfulness)
      e["faithfulness"] = {{"deletion_auc", r.faith.deletion_auc},
                           {"insertion_auc", r.faith.insertion_auc},
                           {"steps", o.faithfulness_steps},
                           {"deletion", r.faith.deletion},
                           {"insertion", r.faith.insertion}};
    if (o.sanity) {
      nlohmann::json steps = nlohmann::json::array();
      for (const SanityStep& st : r.sanity)
        steps.push_back({{"randomized_down_to", st.block}, {"spearman", st.spearman}, {"ssim", st.ssim}});
      e["sanity"] = steps;
    }
    jm.push_back(e);
  }
  j["methods"] = jm;
  j["seconds"] = elapsed();
  if (o.sanity) j["sanity_png"] = stem_with(o.out, ".sanity.png");
  const bool page = M > 1 || o.sanity || o.faithfulness;
  if (page) j["html"] = stem_with(o.out, ".html");

  std::string html;
  if (page) {
    const std::string title = cat("Attribution of ", label.empty() ? cat("class ", target) : label, " (", target, ") — ",
                                  model_name);
    html = cat("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", html_escape(title),
               "</title>\n<style>body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
               "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}th{background:#f4f4f4}"
               "td:first-child,th:first-child{text-align:left}.panels{display:flex;gap:",
               kGap, "px}.panels div{width:", W, "px;font-size:12px;text-align:center}</style></head><body>\n",
               "<h1>", html_escape(title), "</h1>\n<p>", html_escape(o.image), " at ", W, " x ", H, " px; target ",
               target, " <b>", html_escape(label), "</b>: logit ", logit, ", softmax ", prob, ". Scores are the ",
               o.softmax ? "softmax probability" : "pre-softmax logit",
               ". Red raises the score, blue lowers it; each map is scaled to its own 99.5th percentile of |value|.</p>\n",
               "<img src=\"", html_escape(base_name(o.out)), "\" alt=\"attribution maps\">\n<div class=\"panels\"><div>input</div>");
    for (const MethodRun& r : runs) html += cat("<div>", html_escape(r.method->name), "</div>");
    html += "</div>\n<h2>Methods</h2>\n<table><tr><th>method</th><th>what</th><th>seconds</th><th>notes</th>";
    if (o.faithfulness) html += "<th>deletion AUC (lower is better)</th><th>insertion AUC (higher is better)</th>";
    html += "</tr>\n";
    for (const MethodRun& r : runs) {
      std::string notes;
      if (!r.map.layer.empty()) notes += cat("layer ", r.map.layer, " ");
      if (!r.map.completeness_error.empty())
        notes += cat(s.steps, " steps ", s.ig_method, ", baseline ", s.baseline, ": completeness error ",
                     r.map.completeness_error[0], " of S(x) - S(x') = ", r.map.score[0] - r.map.baseline_score[0]);
      if (!r.method->deterministic) notes += cat(s.samples, " samples, noise ", s.noise);
      if (r.method->name == "occlusion") notes += cat("patch ", s.patch, ", stride ", s.stride);
      html += cat("<tr><td>", html_escape(r.method->name), "</td><td>", html_escape(r.method->description), "</td><td>",
                  r.seconds, "</td><td>", html_escape(notes), "</td>");
      if (o.faithfulness) html += cat("<td>", r.faith.deletion_auc, "</td><td>", r.faith.insertion_auc, "</td>");
      html += "</tr>\n";
    }
    html += "</table>\n";
    if (o.sanity) {
      html += cat("<h2>Sanity check: cascading randomisation (Adebayo et al. 2018)</h2>\n<p>Each row: the input, the "
                  "map of the trained network, then the map after re-initialising the blocks from the top down to the "
                  "one named. A map that explains the model changes as its weights are randomised: Spearman rank "
                  "correlation and SSIM with the original map should fall.</p>\n<img src=\"",
                  html_escape(base_name(stem_with(o.out, ".sanity.png"))), "\" alt=\"sanity check\">\n",
                  "<table><tr><th>method</th><th>metric</th>");
      for (const SanityStep& st : runs.front().sanity) html += cat("<th>", html_escape(st.block), "</th>");
      html += "</tr>\n";
      for (const MethodRun& r : runs)
        for (int metric = 0; metric < 2; ++metric) {
          html += cat("<tr><td>", html_escape(r.method->name), "</td><td>", metric ? "SSIM" : "Spearman", "</td>");
          for (const SanityStep& st : r.sanity) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3f", metric ? st.ssim : st.spearman);
            html += cat("<td>", buf, "</td>");
          }
          html += "</tr>\n";
        }
      html += "</table>\n";
    }
    html += cat("<p>Settings and every figure: <a href=\"", html_escape(base_name(stem_with(o.out, ".json"))), "\">",
                html_escape(base_name(stem_with(o.out, ".json"))), "</a>.</p>\n</body></html>\n");
  }

  for (const MethodRun& r : runs) {
    if (r.raw_file.empty()) continue;
    const Shape rs = r.map.raw.shape();
    const std::vector<int64_t> dims = r.method->name == "grad_cam" ? std::vector<int64_t>{rs.h, rs.w}
                                                                    : std::vector<int64_t>{rs.c, rs.h, rs.w};
    write_npy(r.raw_file, r.map.raw.image(0), dims);
  }
  write_png(o.out, canvas);
  if (o.sanity) write_png(stem_with(o.out, ".sanity.png"), sanity_canvas);
  if (page) write_file_atomic(stem_with(o.out, ".html"), html);
  write_file_atomic(stem_with(o.out, ".json"), j.dump(2) + "\n");

  std::printf("target %d (%s): logit %.4g, softmax %.4f\n", target, label.c_str(), logit, prob);
  for (const MethodRun& r : runs) {
    std::printf("  %-22s %7.2f s", r.method->name.c_str(), r.seconds);
    if (!r.map.completeness_error.empty())
      std::printf("  completeness error %.3g (%.2g%%)", r.map.completeness_error[0],
                  100 * std::abs(r.map.completeness_error[0] / (r.map.score[0] - r.map.baseline_score[0])));
    if (o.faithfulness) std::printf("  deletion AUC %.3f  insertion AUC %.3f", r.faith.deletion_auc, r.faith.insertion_auc);
    std::printf("\n");
  }
  std::printf("-> %s%s\n", o.out.c_str(), page ? cat(" and ", stem_with(o.out, ".html")).c_str() : "");
}

}  // namespace

Command add_attribute_command(CLI::App& app) {
  auto o = std::make_shared<AttributeCommand>();
  CLI::App* cmd = app.add_subcommand("attribute", "Attribution maps: which pixels decide a class score (saliency, "
                                                  "SmoothGrad, integrated gradients, Grad-CAM, occlusion, ...)");
  add_model_options(cmd, o->model);
  cmd->add_option("image", o->image, "A photo (PNG or JPEG; centre-cropped and resized as classify does) or an .npy "
                                     "of the preprocessed network input")
      ->required();
  std::string names;
  for (const AttributionMethod& m : attribution_methods()) names += (names.empty() ? "" : ", ") + m.name;
  cmd->add_option("--method", o->methods, "Methods, comma-separated, or all: " + names)->required();
  cmd->add_option("-o,--out", o->out, "Output PNG (OUT.json and, for several methods, OUT.html beside it)")->required();
  cmd->add_option("--target", o->target, "Class: top (the highest logit), an index, or a label name")
      ->capture_default_str();
  cmd->add_option("--raw", o->raw, "Write the signed raw map(s) as float32 .npy (several methods: RAW.<method>.npy)");
  add_settings_options(cmd, o->settings);
  cmd->add_flag("--softmax", o->softmax, "Attribute the softmax probability instead of the pre-softmax logit");
  cmd->add_flag("--sanity", o->sanity,
                "Adebayo et al.'s cascading randomisation: Spearman and SSIM per re-initialised block (slow: every "
                "method once per block)");
  cmd->add_flag("--faithfulness", o->faithfulness, "Deletion and insertion AUC (Petsiuk et al. 2018)");
  cmd->add_option("--faithfulness-steps", o->faithfulness_steps, "Deletion/insertion steps")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  add_run_options(cmd, o->run);
  return {cmd, [o, cmd] {
            o->rule_given = cmd->get_option("--rule")->count() > 0;
            run_attribute(*o);
          }};
}

}  // namespace cuviz::app
