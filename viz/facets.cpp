// Intra-class facets (viz/facets.h): features of a folder -> PCA -> k-means -> per facet an
// inversion of the mean feature and an activation maximization from the mean image.
#include "viz/facets.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <tuple>

#include "core/error.h"
#include "loaders/preprocess.h"
#include "viz/objective.h"

namespace cuviz {

namespace fs = std::filesystem;

std::string default_facet_layer(const Graph& graph) {
  const std::string logit = class_logit_layer(graph);
  const LayerDesc* fc = graph.producer(logit);
  CUVIZ_CHECK(fc && fc->kind == LayerKind::linear, "facets: model ", graph.name,
              " has no linear classifier (its logit ",
              "blob ", logit, " is not made by a linear layer); name a layer with --layer");
  // The last layer before layer index `before` writing `blob` (in-place layers, as Caffe's
  // dropout, write the blob they read).
  auto producer_before = [&](const std::string& blob, size_t before) -> std::pair<const LayerDesc*, size_t> {
    for (size_t i = before; i-- > 0;)
      if (graph.layers[i].output == blob) return {&graph.layers[i], i};
    return {nullptr, 0};
  };
  size_t at = graph.layers.size();
  for (size_t i = 0; i < graph.layers.size(); ++i)
    if (&graph.layers[i] == fc) at = i;
  std::string blob = fc->inputs.at(0);
  auto [p, i] = producer_before(blob, at);
  // Back through the layers that are the identity at inference or only reshape.
  while (p && (p->kind == LayerKind::dropout || p->kind == LayerKind::flatten)) {
    blob = p->inputs.at(0);
    std::tie(p, i) = producer_before(blob, i);
  }
  // An average pool to one position (global, or GoogLeNet's 7x7 pool over the 7x7 map): its input,
  // whose spatial mean is the pool's output at the model's input size and which exists at any size.
  if (p && p->kind == LayerKind::pool && p->pool.mode == PoolMode::average && p->pool.pad_top == 0 &&
      p->pool.pad_left == 0)
    blob = p->inputs.at(0);
  return blob;
}

std::vector<std::string> facet_image_files(const std::string& dir) {
  CUVIZ_CHECK(fs::is_directory(dir), "facets: --images ", dir, " is not a directory");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

FacetImages read_facet_images(const Network& net, const std::string& dir, const std::string& layer, int size,
                              const std::function<void(int, int)>& progress) {
  const std::vector<std::string> files = facet_image_files(dir);
  CUVIZ_CHECK(!files.empty(), "facets: no PNG or JPEG file in ", dir);
  const ModelMeta& meta = net.graph().meta;
  FacetImages out;
  Plan plan = net.plan(Shape{1, 3, size, size}, {layer});  // Error naming an unknown layer
  OwnedTensor x(Shape{1, 3, size, size});
  OwnedTensor input(x.shape(), net.device());
  std::vector<float> rows;
  int channels = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    Image photo;
    try {
      photo = read_image(files[i]);
    } catch (const Error& e) {
      out.skipped.emplace_back(files[i], e.what());
      if (progress) progress(int(i + 1), int(files.size()));
      continue;
    }
    Image square = resize_bilinear(center_square_crop(photo), size, size);
    normalize_image(square, meta, x);
    copy(x, input);
    net.forward(plan, input);
    const Tensor a = net.activation(plan, layer);
    OwnedTensor host(Shape{1, a.c(), a.h(), a.w()});
    net.read_activation(plan, layer, host);
    channels = int(host.c());
    out.layer_height = int(host.h());
    out.layer_width = int(host.w());
    // phi_i: the channel vector averaged over the layer's positions.
    const int64_t hw = host.h() * host.w();
    for (int c = 0; c < channels; ++c) {
      double s = 0;
      for (int64_t p = 0; p < hw; ++p) s += host.data()[c * hw + p];
      rows.push_back(float(s / double(hw)));
    }
    out.files.push_back(files[i]);
    out.images.push_back(std::move(square));
    if (progress) progress(int(i + 1), int(files.size()));
  }
  CUVIZ_CHECK(!out.files.empty(), "facets: none of the ", files.size(), " image files in ", dir,
              " could be read (first: ", out.skipped.front().second, ")");
  out.features = Matrix(int(out.files.size()), channels);
  out.features.data = std::move(rows);
  return out;
}

FacetClusters cluster_facets(const Matrix& features, int k, int components, uint64_t seed) {
  const int n = features.rows;
  CUVIZ_CHECK(k >= 1 && k <= n, "facets: --k ", k, " needs at least ", k, " readable images; there are ", n);
  CUVIZ_CHECK(n >= 2, "facets: clustering needs at least 2 readable images; there is ", n);
  FacetClusters c;
  const int most = std::min(n - 1, features.cols);
  c.components = components > 0 ? components : std::min(10, most);
  CUVIZ_CHECK(c.components <= most, "facets: --components ", components, " is more than ", most,
              " (images - 1 and channels bound the PCA)");
  c.pca = pca(features, PcaOptions{.k = c.components});
  const KmeansResult km = kmeans(c.pca.scores, KmeansOptions{.k = k, .seed = seed});
  c.inertia = km.inertia();
  c.iterations = km.iterations;
  // Renumber by size, largest first; ties by the first member (deterministic).
  std::vector<int> count(size_t(k), 0), first(size_t(k), n);
  for (int i = 0; i < n; ++i) {
    const int l = km.labels[size_t(i)];
    ++count[size_t(l)];
    first[size_t(l)] = std::min(first[size_t(l)], i);
  }
  std::vector<int> order(static_cast<size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    if (count[size_t(a)] != count[size_t(b)]) return count[size_t(a)] > count[size_t(b)];
    return first[size_t(a)] < first[size_t(b)];
  });
  std::vector<int> rank(static_cast<size_t>(k));
  for (int r = 0; r < k; ++r) rank[size_t(order[size_t(r)])] = r;
  c.labels.resize(size_t(n));
  c.sizes.assign(size_t(k), 0);
  for (int i = 0; i < n; ++i) {
    c.labels[size_t(i)] = rank[size_t(km.labels[size_t(i)])];
    ++c.sizes[size_t(c.labels[size_t(i)])];
  }
  return c;
}

std::vector<float> facet_mean_feature(const FacetImages& in, const FacetClusters& c, int facet) {
  std::vector<double> sum(size_t(in.features.cols), 0.0);
  int count = 0;
  for (int i = 0; i < in.features.rows; ++i) {
    if (c.labels[size_t(i)] != facet) continue;
    ++count;
    for (int j = 0; j < in.features.cols; ++j) sum[size_t(j)] += in.features(i, j);
  }
  CUVIZ_CHECK(count > 0, "facets: facet ", facet, " has no member");
  std::vector<float> out(sum.size());
  for (size_t j = 0; j < sum.size(); ++j) out[j] = float(sum[j] / count);
  return out;
}

Image facet_mean_image(const FacetImages& in, const FacetClusters& c, int facet) {
  const Image& first = in.images.front();
  std::vector<double> sum(first.pixels.size(), 0.0);
  int count = 0;
  for (size_t i = 0; i < in.images.size(); ++i) {
    if (c.labels[i] != facet) continue;
    ++count;
    for (size_t p = 0; p < sum.size(); ++p) sum[p] += in.images[i].pixels[p];
  }
  CUVIZ_CHECK(count > 0, "facets: facet ", facet, " has no member");
  Image out = first;
  for (size_t p = 0; p < sum.size(); ++p) out.pixels[p] = uint8_t(std::lround(sum[p] / count));
  return out;
}

InvertSettings facet_invert_settings(const FacetsSettings& s, const std::string& layer) {
  InvertSettings inv;
  inv.layer = layer;
  inv.size = s.size;
  inv.steps = s.steps;
  inv.seed = s.seed;
  return inv;
}

OwnedTensor broadcast_feature(const std::vector<float>& feature, int height, int width) {
  OwnedTensor t(Shape{1, int(feature.size()), height, width});
  const int64_t hw = int64_t(height) * width;
  for (size_t c = 0; c < feature.size(); ++c)
    for (int64_t p = 0; p < hw; ++p) t.data()[int64_t(c) * hw + p] = feature[c];
  return t;
}

Objective facet_objective(const std::string& layer, const std::vector<float>& mean_feature, int class_index) {
  std::vector<float> v = mean_feature;
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  norm = std::sqrt(norm);
  CUVIZ_CHECK(norm > 0, "facets: the mean feature at ", layer, " is zero (every channel 0), no direction to maximise");
  for (float& x : v) x = float(x / norm);
  Objective d = direction(layer, std::move(v));
  return class_index >= 0 ? class_logit("logit", class_index) + d : d;
}

}  // namespace cuviz
