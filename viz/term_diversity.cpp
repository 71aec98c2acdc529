// diversity(L), Lucid's batch diversity: for image i of N,
//   d_i = sum_{j != i} <G^_i, G^_j>,  G^ = G / ||G||,  G_k = A_k A_k^T (the C x C Gram matrix of
//   image k's activations A_k, C x HW).
// Its gradient couples the images: with S = sum_j G^_j, d_i = <G^_i, S - G^_i>; for upstream
// weights U_k = dL/dd_k and T = sum_j U_j G^_j,
//   dG^_k = U_k S + T - 2 U_k G^_k,  dG_k = (dG^_k - G^_k <G^_k, dG^_k>)/|G_k|,  dA_k = 2 dG_k A_k.
// So one batch holds the Gram matrices of every image, whichever images' objectives use it.
// CPU: sgemm; CUDA: naive Gram kernels (viz/term_diversity.cu), C x C x HW being small next to
// the network. Node: layers {L}.
#include "viz/term_diversity.h"

#include <cmath>

#include "kernels/gemm.h"
#include "viz/objective.h"
#include "viz/objective_term.h"

namespace cuviz {

namespace {

// d_i for every image; values[pairs[2k+1]] = d_{pairs[2k]}.
void diversity_values_cpu(const Tensor& act, const Tensor& gram, const Tensor& inv_norm, const std::vector<int>& pairs,
                          float* values) {
  const int n = act.n(), c = act.c(), hw = act.h() * act.w();
  const int64_t cc = int64_t(c) * c;
  std::vector<double> d(size_t(n), 0.0);
  for (int k = 0; k < n; ++k) {
    float* g = gram.data() + k * cc;
    sgemm(false, true, c, c, hw, 1.f, act.image(k), hw, act.image(k), hw, 0.f, g, c);
    double s = 0;
    for (int64_t e = 0; e < cc; ++e) s += double(g[e]) * g[e];
    const float inv = float(1.0 / std::sqrt(std::max(s, 1e-10)));
    inv_norm.data()[k] = inv;
    for (int64_t e = 0; e < cc; ++e) g[e] *= inv;
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      const float* gi = gram.data() + i * cc;
      const float* gj = gram.data() + j * cc;
      double s = 0;
      for (int64_t e = 0; e < cc; ++e) s += double(gi[e]) * gj[e];
      d[size_t(i)] += s;
    }
  for (size_t k = 0; k < pairs.size(); k += 2) values[pairs[k + 1]] = float(d[size_t(pairs[k])]);
}

void diversity_seeds_cpu(const Tensor& act, const Tensor& gram, const Tensor& inv_norm, const Tensor& upstream,
                         const Tensor& dgram, const Tensor& grad) {
  const int n = act.n(), c = act.c(), hw = act.h() * act.w();
  const int64_t cc = int64_t(c) * c;
  const float* u = upstream.data();
  for (int k = 0; k < n; ++k) {
    float* dg = dgram.data() + k * cc;
    const float* gk = gram.data() + k * cc;
    double proj = 0;
    for (int64_t e = 0; e < cc; ++e) {
      double s = -2.0 * u[k] * gk[e];
      for (int j = 0; j < n; ++j) s += double(u[k] + u[j]) * gram.data()[j * cc + e];
      dg[e] = float(s);
      proj += double(gk[e]) * s;
    }
    const float inv = inv_norm.data()[k];
    for (int64_t e = 0; e < cc; ++e) dg[e] = (dg[e] - float(proj) * gk[e]) * inv;
    sgemm(false, false, c, hw, c, 2.f, dg, c, act.image(k), hw, 1.f, grad.image(k), hw);
  }
}

class DiversityBatch final : public LeafBatch {
 public:
  std::vector<int> pairs;  // (image, slot) of every diversity leaf on this blob, flattened

  void bind(const Tensor& act, const Tensor& grad, int n, Device device) override {
    act_ = act;
    grad_ = grad;
    n_ = n;
    device_ = device;
    if (device == Device::cuda) upload_to(pairs_dev_, pairs.data(), pairs.size() * sizeof(int), device);
    const int c = act.c();
    ensure_shape(gram_, Shape{n, c, c, 1}, device);
    ensure_shape(dgram_, Shape{n, c, c, 1}, device);
    ensure_shape(inv_norm_, Shape{n, 1, 1, 1}, device);
    ensure_shape(upstream_, Shape{n, 1, 1, 1}, device);
  }
  void take_buffers(LeafBatch& old) override {
    auto& o = static_cast<DiversityBatch&>(old);
    pairs_dev_ = std::move(o.pairs_dev_);
    gram_ = std::move(o.gram_);
    dgram_ = std::move(o.dgram_);
    inv_norm_ = std::move(o.inv_norm_);
    upstream_ = std::move(o.upstream_);
  }
  void values(const Tensor&, const StepBuffers& step) override {
    if (device_ == Device::cuda)
      diversity_values_cuda(act_, gram_.data(), inv_norm_.data(), static_cast<const int*>(pairs_dev_.data()),
                            int(pairs.size() / 2), step.values);
    else
      diversity_values_cpu(act_, gram_, inv_norm_, pairs, step.values);
  }
  // U_k: the weights of every leaf on image k.
  void weights_changed(const StepBuffers& step) override {
    std::vector<float> up(size_t(n_), 0.f);
    for (size_t k = 0; k < pairs.size(); k += 2) up[size_t(pairs[k])] += (*step.host_weights)[size_t(pairs[k + 1])];
    copy(Tensor(up.data(), Shape{n_, 1, 1, 1}), upstream_);
  }
  void seed(const StepBuffers&) override {
    if (device_ == Device::cuda)
      diversity_seeds_cuda(act_, gram_.data(), inv_norm_.data(), upstream_.data(), dgram_.data(), grad_);
    else
      diversity_seeds_cpu(act_, gram_, inv_norm_, upstream_, dgram_, grad_);
  }

 private:
  Tensor act_, grad_;
  int n_ = 0;
  Device device_ = Device::cpu;
  Buffer pairs_dev_;
  OwnedTensor gram_, dgram_, inv_norm_, upstream_;  // {N, C, C, 1} and {N, 1, 1, 1}
};

}  // namespace

extern const ObjectiveTerm kDiversityTerm;

const ObjectiveTerm kDiversityTerm{
    .name = "diversity",
    .aliases = {},
    .usage = "diversity(LAYER)",
    .parse = [](TermArgs& a) { return diversity(a.layer()); },
    .print = [](const ObjectiveNode& n) { return cat("diversity(", n.layers[0], ")"); },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) {
      auto& batch = c.batch<DiversityBatch>(n.layers[0]);
      for (int i = c.first(); i < c.last(); ++i) {
        batch.pairs.push_back(i);
        batch.pairs.push_back(c.slot(i));
      }
    },
};

Objective diversity(const std::string& layer) { return make_term(kDiversityTerm, {layer}); }

}  // namespace cuviz
