// `cuviz facets MODEL --images DIR (--class N|NAME | --layer L) --k 4 -o DIR`: intra-class facets
// (viz/facets.h; Wei et al. 2015, Nguyen et al. 2016): the features of every PNG/JPEG in DIR
// (progress bar; unreadable files are listed and skipped), PCA, k-means, then per facet an
// inversion of its mean feature and an activation maximization from its mean image (progress bar),
// and the page DIR/index.html with facets.json, written all at once (io/atomic_dir.h): an error
// leaves no partial page.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "apps/common.h"
#include "apps/progress.h"
#include "apps/settings_cli.h"
#include "io/atomic_dir.h"
#include "io/atomic_file.h"
#include "io/html.h"
#include "io/image.h"
#include "io/labels.h"
#include "loaders/preprocess.h"
#include "nn/network.h"
#include "viz/class_model.h"
#include "viz/facets.h"
#include "viz/objective.h"

namespace cuviz::app {

namespace {

namespace fs = std::filesystem;

struct FacetsCommand {
  ModelOptions model;
  FacetsSettings settings;
  RunOptions run;
  std::string images, out;
};

constexpr int kThumb = 64;  // member thumbnails on the page, pixels

void run_facets(FacetsCommand& o) {
  const FacetsSettings& s = o.settings;
  check_settings(s);
  check_precision_backend(s.precision, o.run.backend);
  usage_check(!s.class_name.empty() || !s.layer.empty(), "facets: give --class N|NAME or --layer L");
  AtomicDirectory dir(o.out, "facets.json");  // fails here, before any work, on an unusable DIR
  CUVIZ_CHECK(!facet_image_files(o.images).empty(), "facets: no PNG or JPEG file in ", o.images);
  Graph graph = load_model(o.model);
  const std::string model_name = graph.name;
  std::vector<Label> labels;
  if (!graph.meta.labels.empty()) labels = read_labels(graph.meta.labels);
  const Network net = make_network(std::move(graph), o.run.device, o.run.backend);
  print_device_notice();

  int class_index = -1;
  std::string class_label;
  if (!s.class_name.empty()) {
    class_index = resolve_class(s.class_name, labels, ImageScorer(net).num_classes());
    if (size_t(class_index) < labels.size()) class_label = labels[size_t(class_index)].short_name();
  }
  const std::string layer = s.layer.empty() ? default_facet_layer(net.graph()) : s.layer;
  // The logit is the whole network's output: images smaller than the input size do not reach it.
  const bool use_logit = class_index >= 0 && s.size >= net.graph().meta.input_size;
  if (!o.run.quiet)
    std::fprintf(stderr, "facets: layer %s%s (channel means over its positions)%s\n", layer.c_str(),
               s.layer.empty() ? " (the classifier's features)" : "",
               class_index >= 0 && !use_logit ? "; the class logit needs the model's input size, so the "
                                                "activation maximization uses the direction only"
                                              : "");

  ProgressBar read_bar(o.run.quiet);
  const FacetImages in = read_facet_images(net, o.images, layer, s.size, [&](int done, int total) {
    read_bar.update(double(done) / total, cat(done, "/", total, " images"), done == total);
  });
  if (!o.run.quiet)
    for (const auto& [file, why] : in.skipped)
      std::fprintf(stderr, "facets: skipped %s: %s\n", file.c_str(), why.c_str());
  const FacetClusters c = cluster_facets(in.features, s.k, s.components, s.seed);
  if (!o.run.quiet) {
    std::fprintf(stderr, "facets: %d images x %d channels, PCA to %d components, k-means k=%d: sizes",
                 in.features.rows, in.features.cols, c.components, s.k);
    for (int n : c.sizes) std::fprintf(stderr, " %d", n);
    std::fprintf(stderr, "\n");
  }

  // Per facet: the mean image (also the start of the activation maximization), the inversion
  // and the activation maximization.
  const std::string d = dir.path();
  fs::create_directories(fs::path(d) / "members");
  fs::create_directories(fs::path(d) / "facets");
  ProgressBar bar(o.run.quiet);
  const InvertSettings inv_s = facet_invert_settings(s, layer);
  const int total_steps = 2 * s.k * s.steps;
  nlohmann::json facets = nlohmann::json::array();
  std::string cards;
  for (int f = 0; f < s.k; ++f) {
    const std::vector<float> mu = facet_mean_feature(in, c, f);
    const std::string mean_file = cat("facets/facet_", f, "_mean.png");
    const std::string inv_file = cat("facets/facet_", f, "_invert.png");
    const std::string am_file = cat("facets/facet_", f, "_maximize.png");
    write_png(d + "/" + mean_file, facet_mean_image(in, c, f));
    auto report = [&](int phase, const char* what) {
      return [&, phase, what](const RenderProgress& p) {
        const int done = (2 * f + phase) * s.steps + p.step;
        bar.update(double(done) / total_steps,
                   cat("facet ", f + 1, "/", s.k, " ", what, " step ", p.step, "/", p.steps),
                   done == total_steps);
      };
    };
    const InvertResult inv =
        invert(net, inv_s, broadcast_feature(mu, in.layer_height, in.layer_width), report(0, "invert"));
    write_png(d + "/" + inv_file, inv.png);

    const Objective objective =
        resolve_objective(facet_objective(layer, mu, use_logit ? class_index : -1), net.graph());
    RenderOptions ro = render_options(static_cast<const OptimSettings&>(s), net.device());
    ro.source = ImageSource::parse(d + "/" + mean_file);
    const RenderResult am = render(net, {objective}, ro, report(1, "maximize"));
    write_png(d + "/" + am_file, tensor_to_image(am.images, 0));

    nlohmann::json members = nlohmann::json::array();
    std::string thumbs;
    for (size_t i = 0; i < in.files.size(); ++i) {
      if (c.labels[i] != f) continue;
      const std::string name = fs::path(in.files[i]).filename().string();
      const std::string thumb = cat("members/", i, ".png");
      write_png(d + "/" + thumb, resize_bilinear(in.images[i], kThumb, kThumb));
      members.push_back({{"file", in.files[i]}, {"thumbnail", thumb}});
      thumbs += cat("<img src=\"", thumb, "\" title=\"", html_escape(name), "\" alt=\"", html_escape(name), "\">");
    }
    double mu_norm = 0;
    for (float v : mu) mu_norm += double(v) * v;
    facets.push_back({{"facet", f},
                      {"size", c.sizes[size_t(f)]},
                      {"members", members},
                      {"mean_image", mean_file},
                      {"mean_feature_norm", std::sqrt(mu_norm)},
                      {"invert",
                       {{"png", inv_file}, {"relative_error", inv.relative_error}, {"objective", inv.objective_text}}},
                      {"maximize", {{"png", am_file}, {"objective", objective.str()}, {"final", am.objective[0]}}}});
    cards += cat("<section><h2>facet ", f, " <span>", c.sizes[size_t(f)], " images</span></h2><div class=\"members\">",
                 thumbs, "</div><div class=\"viz\"><figure><img src=\"", mean_file,
                 "\" alt=\"mean image\"><figcaption>mean image</figcaption></figure><figure><img src=\"", inv_file,
                 "\" alt=\"inversion\"><figcaption>inversion of the mean feature (error ",
                 std::round(inv.relative_error * 1000) / 1000, ")</figcaption></figure><figure><img src=\"", am_file,
                 "\" alt=\"maximization\"><figcaption>maximization from the mean image</figcaption></figure></div>"
                 "</section>\n");
  }

  nlohmann::json j = settings_to_json(s);
  j["format"] = "cuviz-facets-1";
  j["command"] = "facets";
  j["model"] = o.model.model;
  j["model_name"] = model_name;
  j["images"] = o.images;
  j["feature_layer"] = layer;
  j["feature"] = "channel means over the layer's positions";
  j["layer_positions"] = {{"height", in.layer_height}, {"width", in.layer_width}};
  j["class_index"] = class_index;
  j["class_label"] = class_label;
  j["class_logit_in_objective"] = use_logit;
  j["device"] = device_name(net.device());
  j["backend"] = o.run.backend;
  j["pca_components"] = c.components;
  j["explained_variance"] = c.pca.explained_variance;
  j["total_variance"] = c.pca.total_variance;
  j["kmeans_inertia"] = c.inertia;
  j["kmeans_iterations"] = c.iterations;
  j["invert_settings"] = settings_to_json(inv_s);
  nlohmann::json skipped = nlohmann::json::array();
  std::string skipped_html;
  for (const auto& [file, why] : in.skipped) {
    skipped.push_back({{"file", file}, {"error", why}});
    skipped_html += cat("<li>", html_escape(file), ": ", html_escape(why), "</li>");
  }
  j["skipped"] = skipped;
  j["facets"] = facets;
  write_file_atomic(d + "/facets.json", j.dump(2) + "\n");

  const std::string title = cat("Facets of ", fs::path(o.images).filename().string(),
                                class_index >= 0 ? cat(" (class ", class_index, " ", class_label, ")") : std::string());
  const std::string meta = cat(o.model.model, " · ", in.files.size(), " images, features: ", layer,
                               " channel means · PCA to ", c.components, " components · k-means k = ", s.k,
                               " · each facet: its members, its mean image, the inversion of its mean feature, and "
                               "activation maximization of ",
                               use_logit ? "the class logit plus " : "",
                               "its mean feature's direction from its mean image");
  std::string page = cat("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
                         html_escape(title), "</title>\n<style>\n",
                         "body { font-family: system-ui, sans-serif; margin: 1.5em; background: #111; color: #ddd; }\n"
                         "h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.1em; margin: 0 0 .4em; }\n"
                         "h2 span, p.meta { color: #999; font-weight: normal; font-size: .9em; }\n"
                         "section { background: #1c1c1c; padding: 8px; border-radius: 4px; margin-bottom: 12px; }\n"
                         ".members img { width: 64px; height: 64px; margin: 0 4px 4px 0; }\n"
                         ".viz { display: flex; gap: 8px; } figure { margin: 0; width: 200px; }\n"
                         "figure img { width: 100%; display: block; } figcaption { font-size: .8em; }\n",
                         "</style>\n</head>\n<body>\n<h1>", html_escape(title), "</h1>\n<p class=\"meta\">",
                         html_escape(meta), "</p>\n", cards);
  if (!skipped_html.empty()) page += cat("<h2>Skipped (unreadable)</h2>\n<ul>", skipped_html, "</ul>\n");
  page += "</body>\n</html>\n";
  write_file_atomic(d + "/index.html", page);
  dir.commit();
  std::printf("%s\n", fs::absolute(fs::path(o.out) / "index.html").lexically_normal().c_str());
}

}  // namespace

Command add_facets_command(CLI::App& app) {
  auto o = std::make_shared<FacetsCommand>();
  CLI::App* cmd = app.add_subcommand(
      "facets", "Intra-class facets: cluster a folder's features (PCA + k-means), visualise each cluster");
  add_model_options(cmd, o->model);
  cmd->add_option("--images", o->images, "Folder of PNG/JPEG images (not recursive; unreadable files are skipped)")
      ->required();
  add_settings_options(cmd, o->settings);
  cmd->add_option("-o,--out", o->out, "Output directory (new, empty, or an earlier facets page, which is replaced)")
      ->required();
  add_run_options(cmd, o->run);
  return {cmd, [o] { run_facets(*o); }};
}

}  // namespace cuviz::app
