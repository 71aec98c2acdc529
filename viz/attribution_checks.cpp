// Sanity checks and faithfulness of attribution maps (viz/attribution_checks.h).
#include "viz/attribution_checks.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "viz/attribution.h"
#include "viz/method_ops.h"

namespace cuviz {

std::vector<float> display_map(const AttributionMap& r, AttributionDisplay display, int i, int H, int W) {
  const Tensor& raw = r.raw;
  const int h = raw.h(), w = raw.w();
  std::vector<float> m(size_t(h) * w, 0.f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float v = 0.f;
      for (int c = 0; c < raw.c(); ++c) {
        const float e = raw.at(i, c, y, x);
        v = display == AttributionDisplay::abs_max ? std::max(v, std::abs(e)) : v + e;
      }
      m[size_t(y) * w + x] = v;
    }
  if (h == H && w == W) return m;
  return resize_bilinear(m.data(), h, w, H, W);
}

namespace {

std::vector<double> ranks(const std::vector<float>& a) {
  std::vector<size_t> order(a.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t p, size_t q) { return a[p] < a[q]; });
  std::vector<double> r(a.size());
  for (size_t k = 0; k < order.size();) {
    size_t e = k;
    while (e + 1 < order.size() && a[order[e + 1]] == a[order[k]]) ++e;
    const double avg = 0.5 * double(k + e) + 1;  // ties share the mean of their ranks
    for (size_t j = k; j <= e; ++j) r[order[j]] = avg;
    k = e + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = double(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double ab = 0, aa = 0, bb = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    ab += (a[k] - ma) * (b[k] - mb);
    aa += (a[k] - ma) * (a[k] - ma);
    bb += (b[k] - mb) * (b[k] - mb);
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

}  // namespace

double spearman(const std::vector<float>& a, const std::vector<float>& b) {
  CUVIZ_CHECK(a.size() == b.size() && !a.empty(), "spearman: maps of ", a.size(), " and ", b.size(), " values");
  // rho = Pearson correlation of the ranks
  return pearson(ranks(a), ranks(b));
}

double ssim(const std::vector<float>& a, const std::vector<float>& b, int H, int W) {
  CUVIZ_CHECK(a.size() == size_t(H) * W && b.size() == a.size(), "ssim: maps are not ", H, " x ", W);
  auto normalised = [](const std::vector<float>& m) {
    float mx = 0.f;
    for (float v : m) mx = std::max(mx, std::abs(v));
    std::vector<double> out(m.size());
    for (size_t k = 0; k < m.size(); ++k) out[k] = mx > 0 ? std::abs(m[k]) / mx : 0.0;
    return out;
  };
  const std::vector<double> x = normalised(a), y = normalised(b);
  // SSIM(x, y) = mean over 7 x 7 windows of
  //   (2 mu_x mu_y + C1)(2 cov_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2)),
  // C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 1; sample (co)variances (skimage's default), windows
  // wholly inside the image.
  const int r = 3, n = 2 * r + 1;
  const double C1 = 1e-4, C2 = 9e-4, np = n * n, cov_norm = np / (np - 1);
  double total = 0;
  int count = 0;
  for (int cy = r; cy + r < H; ++cy)
    for (int cx = r; cx + r < W; ++cx) {
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx) {
          const size_t k = size_t(cy + dy) * W + (cx + dx);
          sx += x[k];
          sy += y[k];
          sxx += x[k] * x[k];
          syy += y[k] * y[k];
          sxy += x[k] * y[k];
        }
      const double mx = sx / np, my = sy / np;
      const double vx = cov_norm * (sxx / np - mx * mx), vy = cov_norm * (syy / np - my * my),
                   cxy = cov_norm * (sxy / np - mx * my);
      total += (2 * mx * my + C1) * (2 * cxy + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      ++count;
    }
  return count > 0 ? total / count : 1.0;
}

std::vector<std::string> cascade_blocks(const Graph& g) {
  std::vector<std::string> blocks;
  for (auto it = g.layers.rbegin(); it != g.layers.rend(); ++it) {
    if (it->weights.empty()) continue;
    const std::string b = it->name.substr(0, it->name.find('/'));
    if (std::find(blocks.begin(), blocks.end(), b) == blocks.end()) blocks.push_back(b);
  }
  return blocks;
}

void randomize_block(Network& net, const std::string& block, uint64_t seed) {
  std::mt19937_64 rng(seed);
  bool any = false;
  for (const LayerDesc& l : net.graph().layers) {
    if (l.weights.empty() || l.name.substr(0, l.name.find('/')) != block) continue;
    if (l.kind != LayerKind::conv && l.kind != LayerKind::linear) continue;
    any = true;
    for (int k = 0; k < int(l.weights.size()); ++k) {
      const Tensor w = net.weight(l.name, k);
      OwnedTensor host(w.shape());
      copy(w, host);
      if (k == 0) {
        double s = 0, ss = 0;
        for (int64_t e = 0; e < host.numel(); ++e) {
          s += host.data()[e];
          ss += double(host.data()[e]) * host.data()[e];
        }
        const double mean = s / double(host.numel());
        std::normal_distribution<double> g(0.0, std::sqrt(std::max(ss / double(host.numel()) - mean * mean, 0.0)));
        for (int64_t e = 0; e < host.numel(); ++e) host.data()[e] = float(g(rng));
      } else {
        fill(host, 0.f);  // the bias
      }
      copy(host, w);
    }
  }
  CUVIZ_CHECK(any, "sanity: block ", block, " has no conv or linear layer");
}

std::vector<SanityStep> cascading_randomization(Network& randomized, const AttributionMethod& method, const Tensor& x,
                                                int target, const AttributionSettings& s,
                                                const std::vector<float>& original, uint64_t seed,
                                                const std::function<void(double)>& progress) {
  const std::vector<std::string> blocks = cascade_blocks(randomized.graph());
  std::vector<SanityStep> steps;
  for (size_t b = 0; b < blocks.size(); ++b) {
    randomize_block(randomized, blocks[b], seed + b);  // cumulative: the blocks above stay random
    const AttributionMap r = method.run(randomized, x, {target}, s, [&](double f) {
      if (progress) progress((double(b) + f) / double(blocks.size()));
    });
    SanityStep st;
    st.block = blocks[b];
    st.map = display_map(r, method.display, 0, x.h(), x.w());
    st.spearman = spearman(original, st.map);
    st.ssim = ssim(original, st.map, x.h(), x.w());
    steps.push_back(std::move(st));
  }
  return steps;
}

Faithfulness deletion_insertion(const Network& net, const Tensor& x, int target, const std::vector<float>& map,
                                int steps, int batch) {
  CUVIZ_CHECK(x.n() == 1 && map.size() == size_t(x.h()) * x.w(), "faithfulness: one image and its H x W map");
  CUVIZ_CHECK(steps >= 1, "faithfulness: steps ", steps, " must be at least 1");
  const int64_t hw = int64_t(x.h()) * x.w();
  std::vector<size_t> order(size_t(hw), 0);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return map[a] > map[b]; });
  const OwnedTensor blurred = ig_baseline(net, x, "blur");
  // Point k of each curve has the first round(k * hw / steps) ranked pixels deleted (set to the
  // zero input) or inserted (copied from x into the blurred copy).
  OwnedTensor del(Shape{steps + 1, 3, x.h(), x.w()}), ins(Shape{steps + 1, 3, x.h(), x.w()});
  for (int k = 0; k <= steps; ++k) {
    copy(x, del.batch(k, 1));
    copy(blurred, ins.batch(k, 1));
    const int64_t upto = (int64_t(k) * hw + steps / 2) / steps;
    for (int64_t j = 0; j < upto; ++j)
      for (int c = 0; c < 3; ++c) {
        const int64_t e = c * hw + int64_t(order[size_t(j)]);
        del.image(k)[e] = 0.f;
        ins.image(k)[e] = x.data()[e];
      }
  }
  Faithfulness f;
  f.deletion = target_scores(net, del, std::vector<int>(size_t(steps + 1), target), true, batch);
  f.insertion = target_scores(net, ins, std::vector<int>(size_t(steps + 1), target), true, batch);
  auto auc = [&](const std::vector<double>& c) {  // trapezoid over fractions k / steps
    double a = 0;
    for (int k = 0; k < steps; ++k) a += 0.5 * (c[size_t(k)] + c[size_t(k + 1)]) / steps;
    return a;
  };
  f.deletion_auc = auc(f.deletion);
  f.insertion_auc = auc(f.insertion);
  return f;
}

}  // namespace cuviz
