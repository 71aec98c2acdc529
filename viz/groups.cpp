// Neuron groups (viz/groups.h): activations -> factorization (viz/factorize.h) -> one batch of
// direction renders -> a static page.
#include "viz/groups.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "io/atomic_file.h"
#include "io/html.h"
#include "io/npy.h"
#include "loaders/preprocess.h"
#include "viz/objective.h"

namespace cuviz {

namespace fs = std::filesystem;

PhotoInput photo_input(const Network& net, const Image& photo) {
  const ModelMeta& meta = net.graph().meta;
  PhotoInput p;
  p.image = resize_bilinear(center_square_crop(photo), meta.input_size, meta.input_size);
  p.input = preprocess(photo, meta);
  return p;
}

Matrix layer_activations(const Network& net, const Tensor& input, const std::string& layer, int& height, int& width) {
  Plan plan = net.plan(input.shape(), {layer});
  OwnedTensor x(input.shape(), net.device());
  copy(input, x);
  net.forward(plan, x);
  const Tensor a = net.activation(plan, layer);
  OwnedTensor host(a.shape());
  net.read_activation(plan, layer, host);
  height = host.h();
  width = host.w();
  return positions_by_channels(host, 0);
}

LayerFactors factor_layer(const Matrix& x, int height, int width, const GroupsSettings& s, Device device) {
  check_settings(s);
  const int n = x.rows, m = x.cols;
  LayerFactors f;
  f.method = s.method;
  f.height = height;
  f.width = width;
  f.x = x;
  f.mean.assign(size_t(m), 0.f);
  if (s.method == "nmf") {
    CUVIZ_CHECK(s.k <= m, "groups: --k ", s.k, " is more than the ", m, " channels of ", s.layer);
    CUVIZ_CHECK(s.k <= n, "groups: --k ", s.k, " is more than the ", n, " positions (", height, "x", width, ") of ",
                s.layer);
    NmfOptions o;
    o.k = s.k;
    o.solver = parse_nmf_solver(s.solver);
    o.max_iter = s.iterations;
    o.tol = s.tol;
    o.seed = s.seed;
    o.device = device;
    NmfResult r = nmf(x, o);
    f.w = std::move(r.W);
    f.h = std::move(r.H);
    f.relative_error = r.relative_error();
    f.iterations = r.iterations;
  } else {
    CUVIZ_CHECK(s.k <= m, "groups: --k ", s.k, " is more than the ", m, " channels of ", s.layer);
    CUVIZ_CHECK(s.k <= n - 1, "groups: --k ", s.k, " needs more than the ", n, " positions (", height, "x", width,
                ") of ", s.layer, " for PCA (at most positions - 1 components)");
    PcaResult r = pca(x, PcaOptions{.k = s.k, .device = device});
    f.w = std::move(r.scores);
    f.h = std::move(r.components);
    f.mean = std::move(r.mean);
    f.explained_variance = std::move(r.explained_variance);
    f.total_variance = r.total_variance;
    // ||X - (mean + W H)||: the variance the k components leave out.
    double s2 = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) {
        double rec = f.mean[size_t(j)];
        for (int q = 0; q < s.k; ++q) rec += double(f.w(i, q)) * f.h(q, j);
        const double d = x(i, j) - rec;
        s2 += d * d;
      }
    f.relative_error = std::sqrt(s2) / frobenius(x);
  }
  return f;
}

Matrix factor_share(const LayerFactors& f, int factor) {
  Matrix s(f.w.rows, f.h.cols);
  for (int i = 0; i < s.rows; ++i)
    for (int j = 0; j < s.cols; ++j) s(i, j) = f.w(i, factor) * f.h(factor, j);
  return s;
}

std::vector<std::pair<int, float>> top_channels(const Matrix& h, int factor, int count) {
  std::vector<int> order(size_t(h.cols));
  std::iota(order.begin(), order.end(), 0);
  count = std::min(count, h.cols);
  std::partial_sort(order.begin(), order.begin() + count, order.end(),
                    [&](int a, int b) { return std::fabs(h(factor, a)) > std::fabs(h(factor, b)); });
  std::vector<std::pair<int, float>> out;
  for (int i = 0; i < count; ++i) out.emplace_back(order[size_t(i)], h(factor, order[size_t(i)]));
  return out;
}

std::array<float, 3> factor_colour(int f) {
  // Six well separated colours (Building Blocks shows six groups), then hues around the circle.
  static const std::array<float, 3> palette[] = {{0.91f, 0.30f, 0.24f}, {0.20f, 0.60f, 0.86f}, {0.18f, 0.80f, 0.44f},
                                                 {0.95f, 0.77f, 0.06f}, {0.61f, 0.35f, 0.71f}, {0.10f, 0.74f, 0.74f}};
  if (f < 6) return palette[f];
  const float hue = std::fmod(float(f) * 0.618034f, 1.f) * 6.f;
  const float x = 1.f - std::fabs(std::fmod(hue, 2.f) - 1.f);
  const int sector = int(hue);
  const std::array<float, 3> rgb[] = {{1, x, 0}, {x, 1, 0}, {0, 1, x}, {0, x, 1}, {x, 0, 1}, {1, 0, x}};
  return rgb[std::min(sector, 5)];
}

std::vector<float> factor_map(const LayerFactors& f, int factor, int size) {
  const int h = f.height, w = f.width;
  float peak = 0.f;
  for (int p = 0; p < h * w; ++p) peak = std::max(peak, f.w(p, factor));
  std::vector<float> out(size_t(size) * size, 0.f);
  if (peak <= 0.f) return out;
  auto at = [&](int y, int x) { return std::max(0.f, f.w(y * w + x, factor)) / peak; };
  for (int y = 0; y < size; ++y) {
    // Pixel centres aligned: output centre (y + 0.5) / size of the layer's extent.
    const float sy = std::clamp((y + 0.5f) * h / size - 0.5f, 0.f, float(h - 1));
    const int y0 = int(sy), y1 = std::min(y0 + 1, h - 1);
    const float ty = sy - y0;
    for (int x = 0; x < size; ++x) {
      const float sx = std::clamp((x + 0.5f) * w / size - 0.5f, 0.f, float(w - 1));
      const int x0 = int(sx), x1 = std::min(x0 + 1, w - 1);
      const float tx = sx - x0;
      out[size_t(y) * size + x] = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x1)) +
                                  ty * ((1 - tx) * at(y1, x0) + tx * at(y1, x1));
    }
  }
  return out;
}

namespace {

uint8_t byte(float v) { return uint8_t(std::lround(std::clamp(v, 0.f, 1.f) * 255.f)); }

// lerp(0.25 photo, colour, alpha) per pixel.
Image blend(const Image& photo, const std::vector<std::array<float, 3>>& colour, const std::vector<float>& alpha) {
  Image out = photo;
  for (int y = 0; y < photo.height; ++y)
    for (int x = 0; x < photo.width; ++x) {
      const size_t p = size_t(y) * photo.width + x;
      for (int c = 0; c < 3; ++c) {
        const float base = 0.25f * photo.at(x, y, c) / 255.f;
        out.at(x, y, c) = byte(base + alpha[p] * (colour[p][size_t(c)] - base));
      }
    }
  return out;
}

std::string css_colour(std::array<float, 3> c) {
  return cat("rgb(", int(byte(c[0])), ",", int(byte(c[1])), ",", int(byte(c[2])), ")");
}

}  // namespace

Image map_overlay(const Image& photo, const std::vector<float>& map, std::array<float, 3> colour) {
  CUVIZ_CHECK(photo.width == photo.height && map.size() == size_t(photo.width) * photo.height,
              "map_overlay: the map must be the photo's size");
  return blend(photo, std::vector<std::array<float, 3>>(map.size(), colour), map);
}

Image groups_overlay(const Image& photo, const LayerFactors& f) {
  const int size = photo.width, k = f.w.cols;
  std::vector<std::vector<float>> maps;
  for (int q = 0; q < k; ++q) maps.push_back(factor_map(f, q, size));
  std::vector<std::array<float, 3>> colour(size_t(size) * size, {0, 0, 0});
  std::vector<float> alpha(colour.size(), 0.f);
  for (size_t p = 0; p < colour.size(); ++p) {
    float sum = 0;
    for (int q = 0; q < k; ++q) {
      const float a = maps[size_t(q)][p];
      const auto c = factor_colour(q);
      for (int ch = 0; ch < 3; ++ch) colour[p][size_t(ch)] += a * c[size_t(ch)];
      sum += a;
      alpha[p] = std::max(alpha[p], a);
    }
    if (sum > 0)
      for (float& v : colour[p]) v /= sum;
  }
  return blend(photo, colour, alpha);
}

RenderResult render_factors(const Network& net, const LayerFactors& f, const GroupsSettings& s,
                            const std::function<void(const RenderProgress&)>& progress) {
  std::vector<Objective> objectives;
  for (int q = 0; q < f.h.rows; ++q) {
    std::vector<float> v(f.h.row(q), f.h.row(q) + f.h.cols);
    double norm = 0;
    for (float x : v) norm += double(x) * x;
    norm = std::sqrt(norm);
    CUVIZ_CHECK(norm > 0, "groups: factor ", q, " is zero (every channel weight 0); try another --seed or a smaller --k");
    for (float& x : v) x = float(x / norm);
    objectives.push_back(s.objective == "direction" ? direction(s.layer, std::move(v))
                                                    : direction_cossim(s.layer, std::move(v)));
  }
  RenderOptions ro = render_options(static_cast<const OptimSettings&>(s), net.device());
  ro.batch = int(objectives.size());
  return render(net, objectives, ro, progress);
}

void write_groups_page(const std::string& dir, const Image& photo, const LayerFactors& f, const RenderResult& renders,
                       const nlohmann::json& info, bool raw) {
  const int k = f.w.cols;
  fs::create_directories(fs::path(dir) / "maps");
  fs::create_directories(fs::path(dir) / "renders");
  write_png(dir + "/photo.png", photo);
  write_png(dir + "/groups.png", groups_overlay(photo, f));
  nlohmann::json factors = nlohmann::json::array();
  std::string cards;
  for (int q = 0; q < k; ++q) {
    const std::string map_file = cat("maps/factor_", q, ".png"), render_file = cat("renders/factor_", q, ".png");
    write_png(dir + "/" + map_file, map_overlay(photo, factor_map(f, q, photo.width), factor_colour(q)));
    write_png(dir + "/" + render_file, tensor_to_image(renders.images, q));
    const auto top = top_channels(f.h, q, 8);
    nlohmann::json tj = nlohmann::json::array();
    std::string list;
    const float lead = std::fabs(top.front().second);
    for (const auto& [c, wgt] : top) {
      tj.push_back({{"channel", c}, {"weight", wgt}});
      list += cat("<li>", c, " <span>", std::round(wgt / (lead > 0 ? lead : 1.f) * 100) / 100, "</span></li>");
    }
    double spatial = 0;  // how much of the photo the factor covers: sum of W[:, q] over positions
    for (int p = 0; p < f.w.rows; ++p) spatial += f.w(p, q);
    const auto colour = factor_colour(q);
    factors.push_back({{"factor", q},
                       {"colour", {colour[0], colour[1], colour[2]}},
                       {"top_channels", tj},
                       {"objective", renders.objective[size_t(q)]},
                       {"map", map_file},
                       {"render", render_file},
                       {"w_sum", spatial}});
    cards += cat("<figure style=\"border-color:", css_colour(colour), "\"><div class=\"pair\"><img src=\"", map_file,
                 "\" alt=\"factor ", q, " map\"><img src=\"", render_file, "\" alt=\"factor ", q,
                 " render\"></div><figcaption><b style=\"color:", css_colour(colour), "\">factor ", q,
                 "</b> objective ", std::round(renders.objective[size_t(q)] * 1000) / 1000,
                 "<ol title=\"strongest channels (weight / the strongest's)\">", list, "</ol></figcaption></figure>\n");
  }
  nlohmann::json j = info;
  j["format"] = "cuviz-groups-1";
  j["method"] = f.method;
  j["positions"] = {{"height", f.height}, {"width", f.width}};
  j["channels"] = f.h.cols;
  j["relative_error"] = f.relative_error;
  if (f.method == "nmf") j["nmf_iterations"] = f.iterations;
  if (f.method == "pca") {
    j["explained_variance"] = f.explained_variance;
    j["total_variance"] = f.total_variance;
  }
  j["factors"] = factors;
  j["render_seconds"] = renders.seconds;
  if (raw) {
    write_npy(dir + "/W.npy", f.w.data.data(), {f.w.rows, f.w.cols});
    write_npy(dir + "/H.npy", f.h.data.data(), {f.h.rows, f.h.cols});
    if (f.method == "pca") write_npy(dir + "/mean.npy", f.mean.data(), {int64_t(f.mean.size())});
    j["raw"] = {"W.npy", "H.npy"};
  }
  write_file_atomic(dir + "/groups.json", j.dump(2) + "\n");

  const std::string title = cat("Neuron groups: ", info.value("layer", std::string()), " on ",
                                fs::path(info.value("image", std::string())).filename().string());
  std::string page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@TITLE@</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #111; color: #ddd; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
p.meta { color: #999; margin: 0 0 1em; font-size: .9em; }
.top { display: flex; gap: 12px; margin-bottom: 1em; }
.top figure { width: 224px; }
#factors { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
figure { margin: 0; background: #1c1c1c; padding: 6px; border-radius: 4px; border: 3px solid #333; }
figure img { width: 100%; display: block; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 4px; }
figcaption { font-size: .85em; padding-top: 4px; }
ol { margin: .3em 0 0; padding-left: 1.6em; columns: 2; font-size: .9em; }
ol span { color: #888; }
</style>
</head>
<body>
<h1>@TITLE@</h1>
<p class="meta">@META@</p>
<div class="top">
<figure><img src="photo.png" alt="photo"><figcaption>the photo as the network sees it</figcaption></figure>
<figure><img src="groups.png" alt="all factors"><figcaption>every factor's spatial map, in its colour</figcaption></figure>
</div>
<div id="factors">
@CARDS@</div>
</body>
</html>
)HTML";
  const std::string meta = cat(info.value("model", std::string()), " · ", f.method == "nmf" ? "NMF" : "PCA", " with k = ",
                               k, " of ", f.height * f.width, " positions (", f.height, "x", f.width, ") x ", f.h.cols,
                               " channels · relative error ", std::round(f.relative_error * 10000) / 10000,
                               " · each factor: its map over the photo (left), its direction rendered (right), its "
                               "strongest channels");
  auto replace_all = [&](const std::string& key, const std::string& value) {
    for (size_t at; (at = page.find(key)) != std::string::npos;) page.replace(at, key.size(), value);
  };
  replace_all("@TITLE@", html_escape(title));
  replace_all("@META@", html_escape(meta));
  replace_all("@CARDS@", cards);
  write_file_atomic(dir + "/index.html", page);
}

}  // namespace cuviz
