// The LRP rules (nn/lrp_rules.h): each conv/linear rule is a sum of terms
//   R_in (+)= coef * x' * B(w', R * gate / stab(den)),   den = sum of modified forwards F(x', w') + b',
// run with the layer's own forward (F) and backward-data (B) kernels on the plan's device.
#include "nn/lrp_rules.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "kernels/conv2d.h"
#include "kernels/linear.h"
#include "kernels/lrp.h"
#include "kernels/pool2d.h"

namespace cuviz {

const char* lrp_rule_kind_name(LrpRuleKind k) {
  switch (k) {
    case LrpRuleKind::epsilon: return "epsilon";
    case LrpRuleKind::zplus: return "zplus";
    case LrpRuleKind::alpha_beta: return "alpha_beta";
    case LrpRuleKind::gamma: return "gamma";
    case LrpRuleKind::zbox: return "zbox";
    case LrpRuleKind::flat: return "flat";
    case LrpRuleKind::wsquare: return "wsquare";
    case LrpRuleKind::norm: return "norm";
    case LrpRuleKind::pass: return "pass";
  }
  return "?";
}

bool lrp_input_nonnegative(const Graph& g, int layer, int slot) {
  const std::string& blob = g.layers[layer].inputs[slot];
  // The value `layer` reads: the last write of the blob before it (in-place layers rewrite blobs).
  int prod = -1;
  for (int i = layer - 1; i >= 0 && prod < 0; --i)
    if (g.layers[i].output == blob) prod = i;
  if (prod < 0) return false;  // the network input
  const LayerDesc& p = g.layers[prod];
  switch (p.kind) {
    case LayerKind::relu:
    case LayerKind::sigmoid:
      return true;
    case LayerKind::pool:
    case LayerKind::lrn:
    case LayerKind::concat:
    case LayerKind::dropout:
    case LayerKind::flatten:
      for (int s = 0; s < int(p.inputs.size()); ++s)
        if (!lrp_input_nonnegative(g, prod, s)) return false;
      return true;
    default:
      return false;
  }
}

namespace {

bool is_weight_rule(LrpRuleKind k) {
  return k != LrpRuleKind::norm && k != LrpRuleKind::pass;
}

// A weight and bias (b undefined: none) on the network's device.
struct Params {
  OwnedTensor w, b;
};

// Elementwise copy of a device tensor through the host with f applied.
template <class F>
OwnedTensor transformed(const Tensor& t, Device d, F f) {
  OwnedTensor h(t.shape());
  copy(t, h);
  for (int64_t k = 0; k < h.numel(); ++k) h.data()[k] = f(h.data()[k]);
  OwnedTensor out(t.shape(), d);
  copy(h, out);
  return out;
}

// The weights of one layer under one modification f (applied to w, and to b when with_bias).
template <class F>
Params modified(const LayerDesc& l, Device d, F f, bool with_bias) {
  Params p;
  p.w = transformed(l.weights[0], d, f);
  if (with_bias && l.weights.size() > 1 && l.weights[1].defined()) p.b = transformed(l.weights[1], d, f);
  return p;
}

// The modified parameters a rule needs for one layer.
struct LayerParams {
  Params plus, minus;   // zplus, alpha_beta, zbox: w+ (b+), w- (b-)
  Params up, down;      // gamma: w + gamma w+ (b + gamma b+), w + gamma w- (b + gamma b-)
  Params other;         // flat: ones (no bias); wsquare: w^2 (b^2)
  bool nonneg = false;  // the layer's input is >= 0 by construction: x- terms vanish
};

class LrpRule final : public BackwardRule {
 public:
  LrpRule(std::string name, RuleTarget target, const LrpRuleSpec& spec, const Network& net)
      : BackwardRule(std::move(name), std::move(target)), spec_(spec) {
    CUVIZ_CHECK(spec.epsilon >= 0 && std::isfinite(spec.epsilon), "LRP rule '", this->name(), "': epsilon ",
                spec.epsilon, " is not a finite value >= 0");
    if (spec.kind == LrpRuleKind::alpha_beta)
      CUVIZ_CHECK(spec.alpha >= 0 && spec.beta >= 0, "LRP rule '", this->name(), "': alpha ", spec.alpha, " and beta ",
                  spec.beta, " must be >= 0");
    if (spec.kind == LrpRuleKind::gamma)
      CUVIZ_CHECK(spec.gamma >= 0 && std::isfinite(spec.gamma), "LRP rule '", this->name(), "': gamma ", spec.gamma,
                  " must be >= 0");
    const Graph& g = net.graph();
    const Device d = net.device();
    const float gamma = float(spec.gamma);
    for (int li = 0; li < int(g.layers.size()); ++li) {
      const LayerDesc& l = g.layers[li];
      if (!this->target().selects(l)) continue;
      check_kind(l);
      if (!is_weight_rule(spec.kind)) continue;
      LayerParams& p = params_[l.name];
      p.nonneg = lrp_input_nonnegative(g, li);
      switch (spec.kind) {
        case LrpRuleKind::zplus:
        case LrpRuleKind::alpha_beta:
        case LrpRuleKind::zbox:
          p.plus = modified(l, d, [](float v) { return std::max(v, 0.f); }, true);
          p.minus = modified(l, d, [](float v) { return std::min(v, 0.f); }, true);
          break;
        case LrpRuleKind::gamma:
          p.up = modified(l, d, [=](float v) { return v + gamma * std::max(v, 0.f); }, true);
          p.down = modified(l, d, [=](float v) { return v + gamma * std::min(v, 0.f); }, true);
          break;
        case LrpRuleKind::flat:
          p.other = modified(l, d, [](float) { return 1.f; }, false);
          break;
        case LrpRuleKind::wsquare:
          p.other = modified(l, d, [](float v) { return v * v; }, true);
          break;
        default:
          break;
      }
      if (spec.kind == LrpRuleKind::zbox) {
        const int c = l.kind == LayerKind::conv ? int(l.weights[0].shape().c) * l.conv.groups : -1;
        CUVIZ_CHECK(int(spec.low.size()) == int(spec.high.size()) && !spec.low.empty(), "LRP rule '", this->name(),
                    "': the zbox rule needs per-channel bounds low and high");
        CUVIZ_CHECK(c < 0 || spec.low.size() == 1 || int(spec.low.size()) == c, "LRP rule '", this->name(),
                    "': zbox bounds for ", spec.low.size(), " channels, layer '", l.name, "' reads ", c);
        for (size_t i = 0; i < spec.low.size(); ++i)
          CUVIZ_CHECK(spec.low[i] <= spec.high[i], "LRP rule '", this->name(), "': zbox channel ", i, " has low ",
                      spec.low[i], " > high ", spec.high[i]);
      }
    }
  }

  RuleNeeds needs(const LayerDesc&) const override {
    // flat and wsquare read only shapes; every other rule but pass reads the layer's input.
    const bool input = spec_.kind != LrpRuleKind::pass && spec_.kind != LrpRuleKind::flat &&
                       spec_.kind != LrpRuleKind::wsquare;
    // epsilon, gamma and zbox read z = w x + b, the layer's own output: kept, it saves a conv
    // forward per layer (the ReLU after it then runs out of place instead of fused).
    const bool output = spec_.kind == LrpRuleKind::epsilon || spec_.kind == LrpRuleKind::gamma ||
                        spec_.kind == LrpRuleKind::zbox;
    return RuleNeeds{.input = input, .output = output};
  }

  void backward(const BackwardArgs& a) const override {
    if (spec_.kind == LrpRuleKind::pass) {
      if (a.dx.data() != a.dy.data()) copy(a.dy, a.dx);  // an in-place layer: dx is dy already
      return;
    }
    if (spec_.kind == LrpRuleKind::norm) return pool_norm(a);
    CUVIZ_CHECK(needs(a.layer).input == false || a.x.defined(), "the plan did not keep the layer's input");
    Step s{*this, a, params_.at(a.layer.name)};
    s.run();
  }

 private:
  void check_kind(const LayerDesc& l) const {
    const char* kind = layer_kind_name(l.kind);
    switch (spec_.kind) {
      case LrpRuleKind::norm:
        CUVIZ_CHECK(l.kind == LayerKind::pool, "LRP rule '", name(), "' (norm) selects layer '", l.name, "' (", kind,
                    "); the norm rule is for pooling layers");
        break;
      case LrpRuleKind::pass:
        CUVIZ_CHECK(l.kind == LayerKind::relu || l.kind == LayerKind::sigmoid || l.kind == LayerKind::lrn ||
                        l.kind == LayerKind::affine,
                    "LRP rule '", name(), "' (pass) selects layer '", l.name, "' (", kind,
                    "); the pass rule is for element-wise layers (relu, sigmoid, lrn, affine)");
        break;
      default:
        CUVIZ_CHECK(l.kind == LayerKind::conv || l.kind == LayerKind::linear, "LRP rule '", name(), "' (",
                    lrp_rule_kind_name(spec_.kind), ") selects layer '", l.name, "' (", kind,
                    "); the weight rules are for conv and linear layers");
    }
  }

  // Dense temporaries carved from the rule's scratch buffer (grown when a larger layer needs more).
  std::vector<Tensor> scratch(Device d, std::initializer_list<Shape> shapes) const {
    size_t bytes = 0;
    for (Shape s : shapes) bytes += Arena::bytes_for(s);
    if (scratch_.bytes() < bytes || scratch_.device() != d) scratch_ = Buffer(bytes, d);
    std::vector<Tensor> out;
    char* p = static_cast<char*>(scratch_.data());
    for (Shape s : shapes) {
      out.emplace_back(reinterpret_cast<float*>(p), s, d);
      p += Arena::bytes_for(s);
    }
    return out;
  }

  // norm: R_i = x_i * pool_backward(R / stab(pool(x)))_i.
  void pool_norm(const BackwardArgs& a) const {
    CUVIZ_CHECK(a.x.defined(), "the plan did not keep the layer's input");
    const Pool2dParams& p = a.layer.pool;
    const Shape ys = pool2d_output_shape(p, a.x.shape());
    auto t = scratch(a.x.device(), {ys, ys, a.x.shape()});
    pool2d_forward(p, a.x, t[0]);                                 // z = pool(x)
    lrp_divide(a.dy, t[0], Tensor(), 0, float(spec_.epsilon), t[1]);  // s = R / stab(z)
    pool2d_backward_data(p, a.x, t[0], t[1], t[2]);               // c = dpool/dx^T s
    lrp_multiply(a.x, t[2], 1.f, false, a.dx);                    // R_in = x * c
  }

  // One application of a conv/linear rule.
  struct Step {
    const LrpRule& rule;
    const BackwardArgs& a;
    const LayerParams& p;
    Conv2dParams conv{};
    bool is_conv = false;
    Tensor xp, xn, c, z, o, s;  // temporaries: 3 of the input's shape, 3 of the output's
    Tensor zg;                  // gamma: the unmodified z that gates the parts (a.y or z)
    bool written = false;       // a.dx holds a first term

    Step(const LrpRule& r, const BackwardArgs& args, const LayerParams& lp) : rule(r), a(args), p(lp) {
      is_conv = a.layer.kind == LayerKind::conv;
      conv = a.layer.conv;
      conv.fuse_relu = false;
      const Shape xs = a.dx.shape(), ys = a.dy.shape();
      auto t = rule.scratch(a.dx.device(), {xs, xs, xs, ys, ys, ys});
      xp = t[0], xn = t[1], c = t[2], z = t[3], o = t[4], s = t[5];
    }

    float eps() const { return float(rule.spec_.epsilon); }
    // z = w x + b: the layer's output as the forward left it (kept: RuleNeeds::output), else recomputed.
    const Tensor& unmodified_z() {
      if (a.y.defined()) return a.y;
      forward(a.x, weight(), bias(), z);
      return z;
    }
    const Tensor& weight() const { return a.layer.weights[0]; }
    Tensor bias() const { return a.layer.weights.size() > 1 ? Tensor(a.layer.weights[1]) : Tensor(); }

    // y = F(x; w, b): the layer's forward with these parameters (b undefined: no bias).
    void forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) const {
      if (is_conv)
        conv2d_forward(conv, x, w, b, y);
      else
        linear_forward(x, w, b, y);
    }
    // dx = B(dy; w): the layer's backward-data with these weights (the transpose of F).
    void backward(const Tensor& dy, const Tensor& w, const Tensor& dx) const {
      if (is_conv)
        conv2d_backward_data(conv, dy, w, dx);
      else
        linear_backward_data(dy, w, dx);
    }
    // R_in (+)= coef * x' * B(s; w').
    void add_term(const Tensor& xin, const Tensor& w, float coef) {
      backward(s, w, c);
      lrp_multiply(xin, c, coef, written, a.dx);
      written = true;
    }
    // One signed part of zplus / alpha-beta / gamma:
    //   den = F(x+; wa, ba) + F(x-; wb)     (x- has no bias: zennit zeroes it there)
    //   s   = R * gate(z) / stab(den)
    //   R_in (+)= coef * (x+ * B(s; wa) + x- * B(s; wb))
    // With a nonnegative input x+ = x and the x- terms are exactly zero, so they are skipped.
    void part(const Params& wa, const Params& wb, int gate, float coef) {
      forward(xp, wa.w, wa.b, o);
      if (!p.nonneg) {
        forward(xn, wb.w, Tensor(), s);
        lrp_axpy(1.f, s, o);
      }
      lrp_divide(a.dy, o, zg, gate, eps(), s);
      add_term(xp, wa.w, coef);
      if (!p.nonneg) add_term(xn, wb.w, coef);
    }

    void run() {
      const Tensor& x = a.x;
      const LrpRuleSpec& sp = rule.spec_;
      if (sp.kind == LrpRuleKind::zplus || sp.kind == LrpRuleKind::alpha_beta || sp.kind == LrpRuleKind::gamma) {
        if (p.nonneg) {
          xp = x;
        } else {
          lrp_clamp(x, +1, xp);
          lrp_clamp(x, -1, xn);
        }
      }
      switch (sp.kind) {
        case LrpRuleKind::epsilon:
          // R_i = x_i sum_j w_ij R_j / stab(z_j), z = w x + b: the gradient x * dz/dx^T s itself.
          lrp_divide(a.dy, unmodified_z(), Tensor(), 0, eps(), s);
          add_term(x, weight(), 1.f);
          break;
        case LrpRuleKind::zplus:
          // R_i = (x+_i w+ + x-_i w-) . R / stab(w+ x+ + w- x- + b+)
          part(p.plus, p.minus, 0, 1.f);
          break;
        case LrpRuleKind::alpha_beta:
          // alpha * (the zplus term) - beta * (the same over the negative contributions
          // w- x+ + w+ x- + b-); zennit computes the beta part also when beta = 0 (times 0).
          part(p.plus, p.minus, 0, float(sp.alpha));
          if (sp.beta != 0) part(p.minus, p.plus, 0, -float(sp.beta));
          break;
        case LrpRuleKind::gamma:
          // Units with z_j > 0 hand R_j down in proportion to x+ (w + g w+) + x- (w + g w-) (+ b + g b+),
          // units with z_j < 0 in proportion to x+ (w + g w-) + x- (w + g w+) (+ b + g b-); zennit's
          // generalised gamma (Andeol et al. 2021), the original one for x >= 0.
          zg = unmodified_z();  // the unmodified z decides which part a unit's relevance takes
          part(p.up, p.down, +1, 1.f);
          part(p.down, p.up, -1, 1.f);
          break;
        case LrpRuleKind::zbox: {
          // R_i = (x_i w - l_i w+ - h_i w-) . R / stab(w x - w+ l - w- h): the deep Taylor
          // root point on the box [l, h] (Montavon et al. 2017).
          // xp, xn hold the bounds l and h, channel by channel (one pair of bounds: every channel).
          const auto& lo = rule.spec_.low;
          const auto& hi = rule.spec_.high;
          CUVIZ_CHECK(lo.size() == 1 || int(lo.size()) == x.c(), "zbox bounds for ", lo.size(),
                      " channels, the layer's input has ", x.c());
          for (int ch = 0; ch < x.c(); ++ch) {
            fill(xp.channels(ch, 1), lo[lo.size() == 1 ? 0 : ch]);
            fill(xn.channels(ch, 1), hi[hi.size() == 1 ? 0 : ch]);
          }
          copy(unmodified_z(), z);              // z = w x + b
          forward(xp, p.plus.w, p.plus.b, o);   // - (w+ l + b+)
          lrp_axpy(-1.f, o, z);
          forward(xn, p.minus.w, p.minus.b, o); // - (w- h + b-)
          lrp_axpy(-1.f, o, z);
          lrp_divide(a.dy, z, Tensor(), 0, eps(), s);
          add_term(x, weight(), 1.f);
          add_term(xp, p.plus.w, -1.f);
          add_term(xn, p.minus.w, -1.f);
          break;
        }
        case LrpRuleKind::flat:
        case LrpRuleKind::wsquare:
          // The input is all ones and the weights are 1 (flat) or w^2: den_j = sum_i w'_ij (+ b_j^2).
          fill(xp, 1.f);
          forward(xp, p.other.w, p.other.b, z);
          lrp_divide(a.dy, z, Tensor(), 0, eps(), s);
          backward(s, p.other.w, a.dx);  // R_i = sum_j w'_ij s_j (no input factor)
          written = true;
          break;
        default:
          CUVIZ_CHECK(false, "LRP rule kind ", lrp_rule_kind_name(sp.kind), " is not a weight rule");
      }
    }
  };

  LrpRuleSpec spec_;
  std::map<std::string, LayerParams> params_;
  mutable Buffer scratch_;
};

}  // namespace

std::shared_ptr<const BackwardRule> lrp_rule(std::string name, RuleTarget target, const LrpRuleSpec& spec,
                                             const Network& net) {
  return std::make_shared<const LrpRule>(std::move(name), std::move(target), spec, net);
}

}  // namespace cuviz
