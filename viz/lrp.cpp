// LRP (viz/lrp.h): a composite picks each layer's rule (nn/lrp_rules.h), the rules go into a
// backward plan, and one forward plus one backward seeded with one-hot * logit gives the map.
#include "viz/lrp.h"

#include <algorithm>
#include <map>

#include "core/exec_context.h"
#include "core/nvtx.h"
#include "nn/lrp_rules.h"

namespace cuviz {

namespace {

// Which layers get which rule (zennit/composites.py). `first` applies to the first layer (in graph
// order) of the kinds first_conv_only says: zennit's epsilon_gamma_box maps its first Convolution,
// the *_flat composites their first Linear (which in zennit's types includes convolutions).
enum class First { none, zbox_first_conv, flat_first_conv_or_linear };

struct Composite {
  const char* name;
  LrpRuleKind conv, linear;
  double alpha = 2, beta = 1;  // when a kind is alpha_beta
  First first = First::none;
};

const Composite kComposites[] = {
    {"epsilon_gamma_box", LrpRuleKind::gamma, LrpRuleKind::epsilon, 2, 1, First::zbox_first_conv},
    {"epsilon_plus", LrpRuleKind::zplus, LrpRuleKind::epsilon},
    {"epsilon_plus_flat", LrpRuleKind::zplus, LrpRuleKind::epsilon, 2, 1, First::flat_first_conv_or_linear},
    {"epsilon_alpha2_beta1", LrpRuleKind::alpha_beta, LrpRuleKind::epsilon, 2, 1},
    {"epsilon_alpha2_beta1_flat", LrpRuleKind::alpha_beta, LrpRuleKind::epsilon, 2, 1,
     First::flat_first_conv_or_linear},
    // One rule for every conv and linear layer.
    {"epsilon", LrpRuleKind::epsilon, LrpRuleKind::epsilon},
    {"zplus", LrpRuleKind::zplus, LrpRuleKind::zplus},
    {"gamma", LrpRuleKind::gamma, LrpRuleKind::gamma},
    {"alpha1_beta0", LrpRuleKind::alpha_beta, LrpRuleKind::alpha_beta, 1, 0},
    {"alpha2_beta1", LrpRuleKind::alpha_beta, LrpRuleKind::alpha_beta, 2, 1},
};

const Composite& find_composite(const std::string& name) {
  for (const Composite& c : kComposites)
    if (name == c.name) return c;
  std::string names;
  for (const Composite& c : kComposites) names += cat(names.empty() ? "" : ", ", c.name);
  throw Error(cat("lrp: unknown composite '", name, "' (known: ", names, ")"));
}

// The layers `output` depends on, in graph order (walking back from its last writer).
std::vector<int> layers_for(const Graph& g, const std::string& output) {
  std::vector<char> need_blob_layer(g.layers.size(), 0);
  std::vector<std::string> needed = {output};
  auto needed_blob = [&](const std::string& b) { return std::find(needed.begin(), needed.end(), b) != needed.end(); };
  // The last writer of `output`; every layer before it writing a needed blob is needed (in-place
  // layers write the blob they read, so its earlier writers stay needed too).
  int last = -1;
  for (int i = 0; i < int(g.layers.size()); ++i)
    if (g.layers[i].output == output) last = i;
  CUVIZ_CHECK(last >= 0, "lrp: no layer computes '", output, "'");
  std::vector<int> out;
  for (int i = last; i >= 0; --i) {
    const LayerDesc& l = g.layers[i];
    if (!needed_blob(l.output)) continue;
    out.push_back(i);
    for (const auto& in : l.inputs)
      if (!needed_blob(in)) needed.push_back(in);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<std::string> lrp_composites() {
  std::vector<std::string> out;
  for (const Composite& c : kComposites) out.push_back(c.name);
  return out;
}

std::string lrp_output_blob(const Graph& g) {
  CUVIZ_CHECK(!g.layers.empty(), "lrp: the network has no layers");
  const LayerDesc& last = g.layers.back();
  return last.kind == LayerKind::softmax ? last.inputs[0] : last.output;
}

std::vector<std::shared_ptr<const BackwardRule>> lrp_rules(const Network& net, const std::string& output,
                                                           const LrpOptions& opt) {
  const Composite& comp = find_composite(opt.composite);
  CUVIZ_CHECK(opt.epsilon >= 0 && opt.stabilizer >= 0, "lrp: epsilon ", opt.epsilon, " and stabilizer ",
              opt.stabilizer, " must be >= 0");
  CUVIZ_CHECK(opt.gamma >= 0, "lrp: gamma ", opt.gamma, " must be >= 0");
  const Graph& g = net.graph();
  std::vector<std::string> first, convs, linears, avg_pools, passes;
  bool first_taken = comp.first == First::none;
  for (int li : layers_for(g, output)) {
    const LayerDesc& l = g.layers[li];
    const bool weighted = l.kind == LayerKind::conv || l.kind == LayerKind::linear;
    if (weighted && !first_taken &&
        (l.kind == LayerKind::conv || comp.first == First::flat_first_conv_or_linear)) {
      first.push_back(l.name);
      first_taken = true;
      continue;
    }
    switch (l.kind) {
      case LayerKind::conv: convs.push_back(l.name); break;
      case LayerKind::linear: linears.push_back(l.name); break;
      case LayerKind::pool:
        if (l.pool.mode == PoolMode::average) avg_pools.push_back(l.name);  // max: its gradient, winner-take-all
        break;
      case LayerKind::relu:
      case LayerKind::sigmoid:
      case LayerKind::lrn:
      case LayerKind::affine: passes.push_back(l.name); break;
      case LayerKind::concat:
      case LayerKind::dropout:
      case LayerKind::flatten: break;  // the gradient passes relevance through unchanged
      default:
        throw Error(cat("lrp: layer '", l.name, "' (", layer_kind_name(l.kind),
                        ") has no LRP rule (rules cover conv, linear, pool, relu, sigmoid, lrn, affine, concat, "
                        "dropout and flatten)"));
    }
  }
  auto spec = [&](LrpRuleKind k) {
    LrpRuleSpec s;
    s.kind = k;
    s.epsilon = k == LrpRuleKind::epsilon ? opt.epsilon : opt.stabilizer;
    s.gamma = opt.gamma;
    s.alpha = comp.alpha;
    s.beta = comp.beta;
    return s;
  };
  std::vector<std::shared_ptr<const BackwardRule>> rules;
  auto add = [&](const char* name, std::vector<std::string> layers, const LrpRuleSpec& s) {
    if (!layers.empty()) rules.push_back(lrp_rule(name, RuleTarget::named(std::move(layers)), s, net));
  };
  if (!first.empty()) {
    LrpRuleSpec s = spec(comp.first == First::zbox_first_conv ? LrpRuleKind::zbox : LrpRuleKind::flat);
    if (s.kind == LrpRuleKind::zbox) {
      // The bounds of the network input: pixel values 0 and 1 through the model's preprocessing,
      // (v * value_scale - mean_c) / std_c per network channel (Caffe GoogLeNet: -mean_c and 255 - mean_c).
      const ModelMeta& m = g.meta;
      for (int c = 0; c < 3; ++c) {
        s.low.push_back((0.f - m.mean[c]) / m.std[c]);
        s.high.push_back((m.value_scale - m.mean[c]) / m.std[c]);
      }
    }
    add("lrp_first", first, s);
  }
  add("lrp_conv", convs, spec(comp.conv));
  add("lrp_linear", linears, spec(comp.linear));
  add("lrp_avgpool", avg_pools, spec(LrpRuleKind::norm));
  add("lrp_pass", passes, spec(LrpRuleKind::pass));
  return rules;
}

Lrp::Lrp(const Network& net, Shape input, const LrpOptions& opt)
    : net_(net), shape_(input), output_(lrp_output_blob(net.graph())) {
  CUVIZ_CHECK(input.n >= 1 && input.c == 3 && input.h > 0 && input.w > 0, "lrp: input ", input.str(),
              " is not a batch of RGB network inputs (N, 3, H, W)");
  plan_ = net.plan(input, {output_}, PlanOptions{.backward = true, .backward_rules = lrp_rules(net, output_, opt)});
  const Shape os = net.activation(plan_, output_).shape();
  CUVIZ_CHECK(os.h == 1 && os.w == 1, "lrp: the network's output '", output_, "' is ", os.str(),
              ", not one score per class");
  classes_ = os.c;
  x_ = OwnedTensor(input, net.device());
  dx_ = OwnedTensor(input, net.device());
}

OwnedTensor Lrp::relevance(const Tensor& x, const std::vector<int>& targets) {
  CUVIZ_CHECK(x.shape() == shape_, "lrp: input ", x.shape().str(), ", planned for ", shape_.str());
  CUVIZ_CHECK(targets.size() == 1 || int(targets.size()) == shape_.n, "lrp: ", targets.size(), " targets for ",
              shape_.n, " images (give one per image, or one for all)");
  for (int t : targets)
    CUVIZ_CHECK(t >= 0 && t < classes_, "lrp: target ", t, " out of range [0, ", classes_, ") of '", output_, "'");
  const ExecScope scope(net_.context_of(plan_));
  CUVIZ_NVTX_RANGE("lrp");
  copy(x, x_);
  net_.forward(plan_, x_);
  OwnedTensor logits(Shape{shape_.n, classes_, 1, 1});
  net_.read_activation(plan_, output_, logits);
  // The output relevance: the target's logit on its unit, zero elsewhere (zennit: one-hot * output).
  OwnedTensor seed(logits.shape());
  fill(seed, 0.f);
  scores_.assign(shape_.n, 0.f);
  for (int i = 0; i < shape_.n; ++i) {
    const int t = targets.size() == 1 ? targets[0] : targets[i];
    scores_[i] = logits.at(i, t, 0, 0);
    seed.at(i, t, 0, 0) = scores_[i];
  }
  copy(seed, net_.activation_grad(plan_, output_));
  net_.backward_to_input(plan_, dx_);
  OwnedTensor out(shape_);
  copy(dx_, out);
  return out;
}

OwnedTensor lrp(const Network& net, const Tensor& x, const std::vector<int>& targets, const LrpOptions& opt) {
  Lrp l(net, x.shape(), opt);
  return l.relevance(x, targets);
}

}  // namespace cuviz
