// The gradient trace (viz/trace.h): the Attributor's stages (viz/attribution.cpp) on a plan that
// keeps every value the objective depends on and taps every value's gradient, and the page that
// shows them.
#include "viz/trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/html.h"
#include "viz/method_ops.h"
#include "viz/objective_eval.h"
#include "viz/transform.h"

namespace cuviz {

namespace {

// The name that resolves to the value layer `li` writes (docs/network.md, "Names"): the blob when
// the layer writes it last; else the layer's own name when no blob has it; else `blob:pre` when
// exactly one later layer rewrites the blob (a Caffe conv followed by its in-place ReLU).
std::string value_name(const Graph& g, size_t li, const std::set<std::string>& blobs) {
  const LayerDesc& l = g.layers[li];
  if (g.producer(l.output) == &l) return l.output;
  if (!blobs.count(l.name)) return l.name;
  int later = 0;
  for (size_t j = li + 1; j < g.layers.size(); ++j) later += g.layers[j].output == l.output;
  CUVIZ_CHECK(later == 1, "trace: the output of layer '", l.name, "' has no name of its own (blob '", l.output,
              "' is rewritten by ", later, " later layers)");
  return l.output + ":pre";
}

// Statistics of a CPU tensor: mean, standard deviation, fraction of exact zeros.
void forward_stats(const Tensor& t, TraceStep& s) {
  double sum = 0, sq = 0;
  int64_t zeros = 0;
  const int64_t n = t.numel();
  for (int64_t k = 0; k < n; ++k) {
    const double v = t.data()[k];
    sum += v;
    sq += v * v;
    zeros += v == 0.0;
  }
  s.act_mean = sum / double(n);
  s.act_std = std::sqrt(std::max(0.0, sq / double(n) - s.act_mean * s.act_mean));
  s.act_zero_fraction = double(zeros) / double(n);
}

// Norm, largest magnitude, non-zero fraction and the channel-summed map of s.grad.
void gradient_stats(TraceStep& s) {
  const Tensor& g = s.grad;
  double sq = 0, mx = 0;
  int64_t nonzero = 0;
  for (int64_t k = 0; k < g.numel(); ++k) {
    const double v = g.data()[k];
    sq += v * v;
    mx = std::max(mx, std::abs(v));
    nonzero += v != 0.0;
  }
  s.grad_norm = std::sqrt(sq);
  s.grad_max_abs = mx;
  s.grad_nonzero_fraction = double(nonzero) / double(g.numel());
  s.grad_map = OwnedTensor(Shape{1, 1, g.h(), g.w()});
  for (int y = 0; y < g.h(); ++y)
    for (int x = 0; x < g.w(); ++x) {
      double m = 0;
      for (int c = 0; c < g.c(); ++c) m += g.at(0, c, y, x);
      s.grad_map.at(0, 0, y, x) = float(m);
    }
}

OwnedTensor to_cpu(const Tensor& t) {
  OwnedTensor out(t.shape());
  copy(t, out);
  return out;
}

}  // namespace

TraceResult trace_backward(const Network& net, const Objective& objective, const Tensor& x) {
  CUVIZ_CHECK(x.n() == 1 && x.c() == 3 && x.h() > 0 && x.w() > 0, "trace: the input ", x.shape().str(),
              " is not one RGB network input (1, 3, H, W)");
  const Graph& g = net.graph();
  ObjectiveEvaluator eval({resolve_objective(objective, g)}, 1);  // unknown layers throw here
  std::vector<std::string> outputs = eval.layers();
  if (outputs.empty()) outputs.push_back(g.input);  // image-only objectives

  // The layers the objective depends on (the truncated plan's), and the name of each one's value.
  std::vector<std::string> run;
  {
    const Plan probe = net.plan(x.shape(), outputs);
    run = probe.layers();
  }
  std::set<std::string> blobs = {g.input};
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < g.layers.size(); ++i) {
    blobs.insert(g.layers[i].output);
    index[g.layers[i].name] = i;
  }
  std::vector<std::string> names;
  for (const auto& layer : run) names.push_back(value_name(g, index.at(layer), blobs));

  // Every value kept (requested as an output, full stash) and every value's gradient tapped.
  PlanOptions o{.backward = true, .stash = Stash::full};
  o.grad_taps = names;
  std::vector<std::string> wanted = outputs;
  for (const auto& n : names)
    if (std::find(wanted.begin(), wanted.end(), n) == wanted.end()) wanted.push_back(n);
  Plan plan = net.plan(x.shape(), wanted, o);
  const Device d = net.device();
  const ExecScope scope(net.context_of(plan));
  eval.bind(net, plan, d);  // channels and positions checked against the blobs' shapes

  // The Attributor's stages: forward, seeds of L = -objective, backward, the image terms' part.
  const Preprocess pre = Preprocess::from_meta(g.meta);
  OwnedTensor xd(x.shape(), d), image(x.shape(), d), dimage(x.shape(), d), dx(x.shape(), d);
  copy(x, xd);
  net.forward(plan, xd);
  input_to_image(pre, xd, image);
  eval.compute_values(image);

  TraceResult r;
  for (size_t k = 0; k < run.size(); ++k) {
    TraceStep s;
    s.value = names[k];
    s.layer = run[k];
    s.kind = layer_kind_name(g.layers[index.at(run[k])].kind);
    OwnedTensor a(net.activation(plan, names[k]).shape());
    net.read_activation(plan, names[k], a);
    s.shape = a.shape();
    forward_stats(a, s);
    r.steps.push_back(std::move(s));
  }
  TraceStep in;
  in.value = g.input;
  in.kind = "input";
  in.shape = x.shape();
  forward_stats(to_cpu(x), in);

  eval.seed();
  net.backward_to_input(plan, dx);
  fill(dimage, 0.f);
  eval.add_image_gradients(image, dimage);
  input_to_image_backward_add(pre, dimage, dx);
  r.objective = eval.read_objectives().at(0);

  // The seeds are those of L = -objective, so d objective / d v = -dL/dv (as Attributor::gradient).
  auto negated = [](const Tensor& t) {
    OwnedTensor out = to_cpu(t);
    for (int64_t k = 0; k < out.numel(); ++k) out.data()[k] = -out.data()[k];
    return out;
  };
  for (size_t k = 0; k < run.size(); ++k) r.steps[k].grad = negated(net.tapped_grad(plan, names[k]));
  in.grad = negated(dx);

  // The trunk: value k (forward order) when no later layer reads a value written before it.
  std::vector<std::vector<int>> reads(run.size());  // per step: the steps whose values it reads (-1: input)
  for (size_t j = 0; j < run.size(); ++j)
    for (const auto& blob : g.layers[index.at(run[j])].inputs) {
      int from = -1;
      for (size_t k = 0; k < j; ++k)
        if (g.layers[index.at(run[k])].output == blob) from = int(k);
      reads[j].push_back(from);
    }
  for (size_t k = 0; k < run.size(); ++k) {
    bool cut = true;
    for (size_t j = k + 1; j < run.size() && cut; ++j)
      for (int from : reads[j]) cut = cut && from >= int(k);
    r.steps[k].trunk = cut;
  }
  in.trunk = true;

  for (auto& s : r.steps) gradient_stats(s);
  gradient_stats(in);
  std::reverse(r.steps.begin(), r.steps.end());  // backward order
  r.steps.push_back(std::move(in));
  return r;
}

// ColorBrewer's RdBu, blue (negative) to red (positive), five anchors linearly interpolated.
Image diverging_image(const Tensor& map, int height, int width) {
  CUVIZ_CHECK(map.device() == Device::cpu && map.n() == 1 && map.c() == 1 && height > 0 && width > 0,
              "diverging_image: expects a CPU map (1, 1, H, W) and a positive size, got ", map.shape().str());
  static constexpr float kAnchor[5][3] = {
      {33, 102, 172}, {146, 197, 222}, {247, 247, 247}, {244, 165, 130}, {178, 24, 43}};
  const int h = map.h(), w = map.w();
  // The scale: the 99th percentile of |entry| (the largest entry when that is zero), so a few
  // spikes do not wash the rest of the map out; entries beyond it take the end colours.
  std::vector<double> mags;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) mags.push_back(std::abs(double(map.at(0, 0, y, x))));
  const size_t q = std::min(mags.size() - 1, size_t(0.99 * double(mags.size())));
  std::nth_element(mags.begin(), mags.begin() + std::ptrdiff_t(q), mags.end());
  double mx = mags[q];
  if (mx == 0) mx = *std::max_element(mags.begin(), mags.end());
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 3;
  img.pixels.resize(size_t(width) * height * 3);
  for (int oy = 0; oy < height; ++oy) {
    // The cells [y0, y1) x [x0, x1) that output pixel (oy, ox) overlaps.
    const int y0 = int(int64_t(oy) * h / height), y1 = std::max(y0 + 1, int((int64_t(oy + 1) * h + height - 1) / height));
    for (int ox = 0; ox < width; ++ox) {
      const int x0 = int(int64_t(ox) * w / width), x1 = std::max(x0 + 1, int((int64_t(ox + 1) * w + width - 1) / width));
      double v = 0;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) v += map.at(0, 0, y, x);
      v /= double((y1 - y0) * (x1 - x0));
      const double t = mx > 0 ? std::clamp(v / mx, -1.0, 1.0) : 0.0;  // -1 .. 1
      const double pos = (t + 1) * 2;                                    // 0 .. 4
      const int i = std::min(3, int(pos));
      const double f = pos - i;
      for (int c = 0; c < 3; ++c)
        img.at(ox, oy, c) = uint8_t(std::lround(kAnchor[i][c] + f * (kAnchor[i + 1][c] - kAnchor[i][c])));
    }
  }
  return img;
}

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// The enlargement that makes a map at least 112 px on its longer side (whole factors only).
int zoom(const Shape& s) {
  const int m = std::max(s.h, s.w);
  return std::max(1, (112 + m - 1) / m);
}

void write_page_files(const std::filesystem::path& dir, const TraceResult& r, const TracePageInfo& info) {
  namespace fs = std::filesystem;
  fs::create_directory(dir / "grad");
  nlohmann::json rows = nlohmann::json::array();
  std::string table;
  std::vector<const TraceStep*> trunk;
  for (size_t k = 0; k < r.steps.size(); ++k) {
    const TraceStep& s = r.steps[k];
    char file[32];
    std::snprintf(file, sizeof file, "grad/%03zu.png", k);
    const int z = zoom(s.shape);
    write_png((dir / file).string(), diverging_image(s.grad_map, s.shape.h * z, s.shape.w * z));
    if (s.trunk) trunk.push_back(&s);
    rows.push_back({{"value", s.value},
                    {"layer", s.layer},
                    {"kind", s.kind},
                    {"shape", {s.shape.n, s.shape.c, s.shape.h, s.shape.w}},
                    {"act_mean", s.act_mean},
                    {"act_std", s.act_std},
                    {"act_zero_fraction", s.act_zero_fraction},
                    {"grad_norm", s.grad_norm},
                    {"grad_max_abs", s.grad_max_abs},
                    {"grad_nonzero_fraction", s.grad_nonzero_fraction},
                    {"trunk", s.trunk},
                    {"picture", file}});
    std::string name = "<code>" + html_escape(s.value) + "</code>";
    if (!s.layer.empty() && s.layer != s.value) name += "<br><small>layer " + html_escape(s.layer) + "</small>";
    table += cat("<tr", s.trunk ? " class=\"trunk\"" : "", "><td>", k, "</td><td>", name, "</td><td>",
                 html_escape(s.kind), "</td><td>", s.shape.c, "&times;", s.shape.h, "&times;", s.shape.w, "</td><td>",
                 fmt("%.4g", s.act_mean), "</td><td>", fmt("%.4g", s.act_std), "</td><td>",
                 fmt("%.3g%%", 100 * s.act_zero_fraction), "</td><td>", fmt("%.4g", s.grad_norm), "</td><td>",
                 fmt("%.4g", s.grad_max_abs), "</td><td>", fmt("%.3g%%", 100 * s.grad_nonzero_fraction),
                 "</td><td><img src=\"", file, "\" width=\"", s.shape.w * zoom(s.shape), "\" height=\"",
                 s.shape.h * zoom(s.shape), "\" alt=\"gradient map of ", html_escape(s.value), "\"></td></tr>\n");
  }

  // summary.png: the trunk's maps, 64 px each, 10 to a row, 4 px of white between them.
  constexpr int kPanel = 64, kGap = 4, kPerRow = 10;
  const int cols = std::min<int>(kPerRow, int(trunk.size())), rows_n = (int(trunk.size()) + kPerRow - 1) / kPerRow;
  Image sheet;
  sheet.width = cols * kPanel + (cols - 1) * kGap;
  sheet.height = rows_n * kPanel + (rows_n - 1) * kGap;
  sheet.pixels.assign(size_t(sheet.width) * sheet.height * 3, 255);
  for (size_t i = 0; i < trunk.size(); ++i) {
    const Image p = diverging_image(trunk[i]->grad_map, kPanel, kPanel);
    const int ox = int(i % kPerRow) * (kPanel + kGap), oy = int(i / kPerRow) * (kPanel + kGap);
    for (int y = 0; y < kPanel; ++y)
      for (int x = 0; x < kPanel; ++x)
        for (int c = 0; c < 3; ++c) sheet.at(ox + x, oy + y, c) = p.at(x, y, c);
  }
  write_png((dir / "summary.png").string(), sheet);
  std::string trunk_names;
  for (const TraceStep* s : trunk) trunk_names += cat(trunk_names.empty() ? "" : " &rarr; ", html_escape(s->value));

  nlohmann::json j;
  j["command"] = "trace";
  j["model"] = info.model;
  j["objective_text"] = info.objective;
  j["input"] = info.input;
  j["size"] = info.size;
  j["seed"] = info.seed;
  j["device"] = info.device;
  j["objective"] = r.objective;
  j["rows"] = rows;
  write_file_atomic((dir / "trace.json").string(), j.dump(2) + "\n");

  const std::string title = cat("Gradient trace: ", info.objective, " — ", info.model);
  std::string page = cat(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", html_escape(title),
      "</title>\n<style>\nbody{font-family:sans-serif;margin:1.5em;max-width:80em}\n"
      "table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;"
      "vertical-align:middle}\ntd:nth-child(2),td:nth-child(3){text-align:left}\ntr.trunk td{background:#f4f4fb}\n"
      "img{image-rendering:pixelated}\n</style>\n</head>\n<body>\n<h1>", html_escape(title), "</h1>\n<p>Input: ",
      html_escape(info.input), ", ", info.size, "&times;", info.size, " px, seed ", info.seed, ", on ",
      html_escape(info.device), ". Objective value: ", fmt("%.6g", r.objective), ".</p>\n",
      "<p>One backward pass, read from the top: each row is a value the objective depends on, latest in the forward "
      "first, down to the network input. <em>Forward</em>: the value's mean, standard deviation and fraction of "
      "zeros (a ReLU's output is zero where its input was negative). <em>Backward</em>: g = d objective / d value, "
      "its L2 norm, largest |g|, the fraction of non-zero entries, and the map sum<sub>c</sub> g(c, y, x) in a "
      "diverging colour map (red: increasing the value there increases the objective, blue: decreases it, white: "
      "no effect; each map scaled by the 99th percentile of its |entries|, larger entries clamped). <code>blob:pre</code> is the value before an in-place "
      "ReLU: compare it with the row above to see the ReLU mask. Shaded rows (the trunk) are values every path to "
      "the input passes through; between them the signal splits into the inception branches and sums again where "
      "they read the same input.</p>\n<p><img src=\"summary.png\" alt=\"the trunk's gradient maps\"><br><small>"
      "The trunk, left to right: ", trunk_names, "</small></p>\n",
      "<table>\n<tr><th>#</th><th>value</th><th>kind</th><th>shape</th><th>mean</th><th>std</th><th>zeros</th>"
      "<th>|g|</th><th>max |g|</th><th>g &ne; 0</th><th>sum<sub>c</sub> g</th></tr>\n",
      table, "</table>\n<p>Numbers: <a href=\"trace.json\">trace.json</a>.</p>\n</body>\n</html>\n");
  write_file_atomic((dir / "index.html").string(), page);
}

}  // namespace

void write_trace_page(const std::string& dir_text, const TraceResult& r, const TracePageInfo& info) {
  namespace fs = std::filesystem;
  CUVIZ_CHECK(!r.steps.empty(), "trace page: nothing traced");
  fs::path dir = fs::path(dir_text);
  if (!dir.has_filename()) dir = dir.parent_path();  // "out/" -> "out"
  const fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  std::error_code ec;
  CUVIZ_CHECK(fs::is_directory(parent, ec), "cannot write ", dir_text, ": directory ", parent.string(),
              " does not exist");
  const bool exists = fs::exists(dir, ec);
  if (exists)
    CUVIZ_CHECK(fs::is_directory(dir, ec) && (fs::is_empty(dir, ec) || fs::exists(dir / "trace.json", ec)),
                "cannot write the trace page into ", dir_text,
                ": it exists and is not an earlier trace page (no trace.json); remove it or choose another directory");
  const std::string stem = cat(".", dir.filename().string(), ".tmp-", ::getpid());
  const fs::path tmp = parent / stem, old = parent / (stem + "-old");
  try {
    fs::remove_all(tmp);
    fs::create_directory(tmp);
    write_page_files(tmp, r, info);
    if (exists) fs::rename(dir, old);
    fs::rename(tmp, dir);
    if (exists) fs::remove_all(old);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    // The error's own text names the temporary folder (with the process id): say what failed.
    throw Error(cat("cannot write the trace page into ", dir_text, ": ", e.code().message()));
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace cuviz
