// The activation grid (viz/activation_grid.h): one direction per position, rendered in batches.
#include "viz/activation_grid.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "io/atomic_file.h"
#include "viz/objective.h"
#include "viz/render.h"

namespace cuviz {

GridResult render_activation_grid(const Network& net, const Matrix& x, int height, int width, const GridSettings& s,
                                  const std::function<void(const GridProgress&)>& progress) {
  check_settings(s);
  CUVIZ_CHECK(height * width > 1, "grid: ", s.layer, " has no spatial extent (", height, "x", width,
              "); choose a convolutional layer, e.g. inception_4d/output");
  CUVIZ_CHECK(x.rows == height * width, "grid: ", x.rows, " rows for ", height, "x", width, " positions");
  const int cell = s.size, n = x.rows;
  GridResult g;
  g.height = height;
  g.width = width;
  g.objective.assign(size_t(n), 0.0);
  g.empty.assign(size_t(n), false);
  g.grid = Image{width * cell, height * cell, 3, std::vector<uint8_t>(size_t(width) * cell * height * cell * 3, 128)};

  // The positions with a direction, and each one's objective on the activation vector.
  std::vector<int> todo;
  for (int p = 0; p < n; ++p) {
    double norm = 0;
    for (int c = 0; c < x.cols; ++c) norm += double(x(p, c)) * x(p, c);
    if (norm > 0)
      todo.push_back(p);
    else
      g.empty[size_t(p)] = true;
  }
  auto objective_of = [&](int p) {
    std::vector<float> v(x.row(p), x.row(p) + x.cols);
    return s.objective == "direction" ? direction(s.layer, std::move(v)) : direction_cossim(s.layer, std::move(v));
  };
  RenderOptions ro = render_options(static_cast<const OptimSettings&>(s), net.device());
  const int batch = s.batch > 0 ? s.batch : (net.device() == Device::cpu ? 16 : int(todo.size()));
  ro.batch = std::max(1, std::min<int>(batch, int(todo.size())));
  // Batches of ro.batch cells, the last padded with repeats of its last cell (as a sweep's).
  auto batch_objectives = [&](size_t first) {
    std::vector<Objective> o;
    for (size_t i = first; i < first + size_t(ro.batch); ++i) o.push_back(objective_of(todo[std::min(i, todo.size() - 1)]));
    return o;
  };
  const auto start = std::chrono::steady_clock::now();
  auto report = [&](int done, int bsize, int step) {
    if (!progress) return;
    progress(GridProgress{done, n, step, s.steps, bsize,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
  };
  int done = n - int(todo.size());
  report(done, 0, 0);
  std::unique_ptr<Renderer> r;
  for (size_t first = 0; first < todo.size(); first += size_t(ro.batch)) {
    const int count = int(std::min<size_t>(size_t(ro.batch), todo.size() - first));
    if (!r)
      r = std::make_unique<Renderer>(net, batch_objectives(first), ro);
    else
      r->restart(batch_objectives(first));
    const RenderResult rr = render_loop(*r, [&](const RenderProgress& p) { report(done, count, p.step); });
    for (int i = 0; i < count; ++i) {
      const int p = todo[first + size_t(i)];
      g.objective[size_t(p)] = rr.objective[size_t(i)];
      const Image img = tensor_to_image(rr.images, i);
      const int gy = p / width, gx = p % width;
      for (int y = 0; y < cell; ++y)
        std::copy_n(&img.pixels[size_t(y) * cell * 3], size_t(cell) * 3,
                    &g.grid.pixels[(size_t(gy * cell + y) * g.grid.width + size_t(gx) * cell) * 3]);
    }
    g.seconds += rr.seconds;
    done += count;
    report(done, 0, 0);
  }
  return g;
}

void write_grid_page(const std::string& dir, const Image& photo, const GridResult& g, const nlohmann::json& info) {
  write_png(dir + "/photo.png", photo);
  write_png(dir + "/grid.png", g.grid);
  nlohmann::json j = info;
  j["format"] = "cuviz-grid-1";
  j["positions"] = {{"height", g.height}, {"width", g.width}};
  j["objective_per_position"] = g.objective;
  int empty = 0;
  for (bool e : g.empty) empty += e;
  j["empty_positions"] = empty;
  j["render_seconds"] = g.seconds;
  write_file_atomic(dir + "/grid.json", j.dump(2) + "\n");
  const std::string layer = info.value("layer", std::string());
  std::string page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Activation grid: @LAYER@</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #111; color: #ddd; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
p.meta { color: #999; margin: 0 0 1em; font-size: .9em; }
.pair { display: flex; gap: 12px; flex-wrap: wrap; }
figure { margin: 0; }
figure img { width: min(45vw, 640px); display: block; }
figcaption { font-size: .85em; color: #aaa; }
</style>
</head>
<body>
<h1>Activation grid: @LAYER@</h1>
<p class="meta">@META@</p>
<div class="pair">
<figure><img src="photo.png" alt="photo"><figcaption>the photo as the network sees it</figcaption></figure>
<figure><img src="grid.png" alt="activation grid"><figcaption>each cell: the activation vector at that position, rendered</figcaption></figure>
</div>
</body>
</html>
)HTML";
  const std::string meta = cat(info.value("model", std::string()), " · ", g.height, "x", g.width, " positions, ",
                               info.value("size", 0), " px cells, ", info.value("steps", 0), " steps, objective ",
                               info.value("objective", std::string()), empty ? cat(" · ", empty, " empty (grey)") : "");
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"@LAYER@", layer}, {"@META@", meta}})
    for (size_t at; (at = page.find(key)) != std::string::npos;) page.replace(at, key.size(), value);
  write_file_atomic(dir + "/index.html", page);
}

}  // namespace cuviz
