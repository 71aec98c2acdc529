// Shared by lrp_test.cpp and lrp_cuda_test.cpp: a GoogLeNet-like network every LRP composite
// covers, per-image relevance sums, and the reader of zennit's float16 fixture maps.
#pragma once

#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../nn/reference_net.h"

namespace cuviz::test {

// small_net without its affine + residual add (no LRP rule for add); without biases on request.
inline Graph conservation_net(bool biases) {
  Graph g;
  g.name = "lrp_net";
  g.input = "data";
  g.input_shape = Shape{2, 3, 10, 10};
  g.layers.push_back(test::conv_layer("conv1", "data", "conv1", 3, 6, 3, 1, 1));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "relu1", {"conv1"}, "conv1"));
  g.layers.push_back(test::pool_layer("pool1", "conv1", "pool1", Pool2dParams::make(PoolMode::max, 3, 2, 0, true)));
  LayerDesc lrn = test::simple_layer(LayerKind::lrn, "norm1", {"pool1"}, "norm1");
  lrn.lrn = LrnParams{3, 0.5f, 0.75f, 1.f};
  g.layers.push_back(std::move(lrn));
  test::add_inception(g, "inc", "norm1", 6, 10);
  Pool2dParams gap = Pool2dParams::make(PoolMode::average, 1, 1);
  gap.global = true;
  g.layers.push_back(test::pool_layer("gap", "inc/output", "gap", gap));
  g.layers.push_back(test::simple_layer(LayerKind::dropout, "drop", {"gap"}, "gap"));
  g.layers.push_back(test::simple_layer(LayerKind::flatten, "flat", {"gap"}, "flat"));
  g.layers.push_back(test::linear_layer("fc", "flat", "fc", 14, 5, 40));
  g.layers.push_back(test::simple_layer(LayerKind::softmax, "prob", {"fc"}, "prob"));
  if (!biases)
    for (auto& l : g.layers)
      if (l.weights.size() == 2) l.weights.pop_back();
  return g;
}

// Per image, the sum over a blob's relevance.
inline std::vector<double> sums(const Tensor& t) {
  OwnedTensor h(t.shape());
  copy(t, h);
  std::vector<double> s(h.n(), 0.0);
  for (int i = 0; i < h.n(); ++i)
    for (int64_t k = 0; k < h.shape().image_size(); ++k) s[i] += h.image(i)[k];
  return s;
}

// A little-endian float16 C-order .npy (what the fixture script writes) as floats, with its dims.
inline std::vector<float> read_npy_f16(const std::string& path, std::vector<int64_t>& dims) {
  std::ifstream f(path, std::ios::binary);
  CUVIZ_CHECK(f.good(), "cannot read ", path);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CUVIZ_CHECK(all.size() > 10 && all.compare(1, 5, "NUMPY") == 0 && all[6] == 1, path, ": not a version 1 .npy");
  const size_t hlen = uint8_t(all[8]) | size_t(uint8_t(all[9])) << 8;
  const std::string header = all.substr(10, hlen);
  CUVIZ_CHECK(header.find("'<f2'") != std::string::npos && header.find("False") != std::string::npos, path,
              ": not a C-order float16 array");
  const size_t open = header.find('(', header.find("shape")), close = header.find(')', open);
  dims.clear();
  int64_t n = 1;
  for (size_t p = open + 1; p < close;) {
    size_t q = p;
    while (q < close && std::isdigit(static_cast<unsigned char>(header[q]))) ++q;
    if (q > p) dims.push_back(std::stoll(header.substr(p, q - p))), n *= dims.back();
    p = q + 1;
  }
  CUVIZ_CHECK(all.size() == 10 + hlen + size_t(n) * 2, path, ": size does not match its shape");
  std::vector<float> out(n);
  for (int64_t k = 0; k < n; ++k) {
    uint16_t h;
    std::memcpy(&h, all.data() + 10 + hlen + 2 * k, 2);
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);  // no inf/nan in the fixtures
    out[k] = float(h & 0x8000 ? -v : v);
  }
  return out;
}

inline double cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t k = 0; k < n; ++k) ab += double(a[k]) * b[k], aa += double(a[k]) * a[k], bb += double(b[k]) * b[k];
  return ab / std::sqrt(aa * bb);
}

}  // namespace cuviz::test
