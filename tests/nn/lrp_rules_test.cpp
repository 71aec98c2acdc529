// The LRP rules (nn/lrp_rules.h) on tiny layers, through a real backward plan:
//  - hand-worked answers on a 2-input linear unit (every conv/linear rule);
//  - every rule on a conv (stride, padding, bias, negative inputs, two images) and a linear layer
//    against an independent double-precision reference written per connection, the textbook
//    form R_i = sum_j z_ij R_j / stab(sum_i z_ij + b_j) (no modified forward, no transposed conv);
//  - the same with a ReLU in front (nonnegative input: the rules' x- terms are skipped);
//  - central differences: each rule is x' * d/dx' of sum_j s_j z'_j(x') with s held fixed, the
//    gradient of a modified forward;
//  - norm on average pooling, pass on LRN, and clear errors for rules on the wrong layers.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "kernels/conv2d.h"
#include "nn/lrp_rules.h"
#include "nn/network.h"
#include "reference_net.h"
#include "test_util.h"

namespace cuviz {

namespace {

using test::fill_uniform;

// zennit's stabiliser in double.
double stab(double z, double eps) { return z + (z >= 0 ? eps : -eps); }

// Runs `rules` in a backward plan of g from input x to blob `out`, seeded with R; returns dx.
OwnedTensor relevance_in(Graph g, const std::vector<LrpRuleSpec>& specs, const std::vector<std::string>& layers,
                         const Tensor& x, const Tensor& r, const std::string& out, Stash stash = Stash::full) {
  const Network net(std::move(g), Device::cpu);
  std::vector<std::shared_ptr<const BackwardRule>> rules;
  for (size_t i = 0; i < specs.size(); ++i)
    rules.push_back(lrp_rule("r" + std::to_string(i), RuleTarget::named({layers[i]}), specs[i], net));
  Plan p = net.plan(x.shape(), {out}, PlanOptions{.backward = true, .stash = stash, .backward_rules = rules});
  net.forward(p, x);
  copy(r, net.activation_grad(p, out));
  OwnedTensor dx(x.shape());
  net.backward_to_input(p, dx);
  return dx;
}

LrpRuleSpec spec_of(LrpRuleKind k, double eps = 1e-6) {
  LrpRuleSpec s;
  s.kind = k;
  s.epsilon = eps;
  return s;
}

// --- hand-worked -----------------------------------------------------------------------------

// x = (1, 2), one output with w = (1, -1) and no bias, R_out = 3. z = 1 - 2 = -1.
Graph unit_linear() {
  Graph g;
  g.name = "unit";
  g.input = "x";
  g.input_shape = Shape{1, 2, 1, 1};
  LayerDesc l = test::simple_layer(LayerKind::linear, "fc", {"x"}, "y");
  OwnedTensor w(Shape{1, 2, 1, 1});
  w.data()[0] = 1.f, w.data()[1] = -1.f;
  l.weights.push_back(std::move(w));
  g.layers.push_back(std::move(l));
  return g;
}

std::pair<float, float> hand(const LrpRuleSpec& s) {
  OwnedTensor x(Shape{1, 2, 1, 1}), r(Shape{1, 1, 1, 1});
  x.data()[0] = 1.f, x.data()[1] = 2.f, r.data()[0] = 3.f;
  const OwnedTensor dx = relevance_in(unit_linear(), {s}, {"fc"}, x, r, "y");
  return {dx.data()[0], dx.data()[1]};
}

void expect_pair(std::pair<float, float> got, double a, double b) {
  SCOPED_TRACE(testing::Message() << "got " << got.first << ", " << got.second);
  EXPECT_NEAR(got.first, a, 1e-5) << "R_1";
  EXPECT_NEAR(got.second, b, 1e-5) << "R_2";
}

}  // namespace

TEST(LrpRules, HandWorkedOnOneLinearUnit) {
  const double e = 1e-9;
  // epsilon: R_i = x_i w_i R / z = (1 * 1 * 3 / -1, 2 * -1 * 3 / -1).
  expect_pair(hand(spec_of(LrpRuleKind::epsilon, e)), -3, 6);
  // zplus: only x_1 w_1 = 1 is positive: all of R to input 1.
  expect_pair(hand(spec_of(LrpRuleKind::zplus, e)), 3, 0);
  // alpha 2 beta 1: 2 * (3, 0) - 1 * (0, 3): the negative part x_2 w_2 = -2 takes R to input 2.
  expect_pair(hand(spec_of(LrpRuleKind::alpha_beta, e)), 6, -3);
  LrpRuleSpec a10 = spec_of(LrpRuleKind::alpha_beta, e);
  a10.alpha = 1, a10.beta = 0;
  expect_pair(hand(a10), 3, 0);
  // gamma 0.25: z < 0, so the negative part: x+ (w + 0.25 w-) = (1, 2 * -1.25) = (1, -2.5), sum -1.5;
  // R_i = (1, -2.5) * 3 / -1.5.
  expect_pair(hand(spec_of(LrpRuleKind::gamma, e)), -2, 5);
  // flat: 1 / 2 of R each; w^2: w^2 = (1, 1), the same.
  expect_pair(hand(spec_of(LrpRuleKind::flat, e)), 1.5, 1.5);
  expect_pair(hand(spec_of(LrpRuleKind::wsquare, e)), 1.5, 1.5);
  // zbox with l = -1, h = 2: z_i = x_i w_i - l w+_i - h w-_i = (1 + 1, -2 + 2) = (2, 0): all to input 1.
  LrpRuleSpec box = spec_of(LrpRuleKind::zbox, e);
  box.low = {-1.f};
  box.high = {2.f};
  expect_pair(hand(box), 3, 0);
}

namespace {

// --- per-connection reference -----------------------------------------------------------------

// One connection of a conv (or linear: a 1x1 conv over a 1x1 input) in image-local indices.
struct Conn {
  int64_t i, j;  // input and output element within one image
  int64_t w;     // the weight's index in the OIHW weight tensor
};

std::vector<Conn> connections(Shape x, Shape w, const Conv2dParams& p, Shape y) {
  std::vector<Conn> out;
  const int cin_g = w.c, cout_g = w.n / p.groups;
  for (int o = 0; o < y.c; ++o)
    for (int oy = 0; oy < y.h; ++oy)
      for (int ox = 0; ox < y.w; ++ox)
        for (int ci = 0; ci < cin_g; ++ci)
          for (int ky = 0; ky < w.h; ++ky)
            for (int kx = 0; kx < w.w; ++kx) {
              const int iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
              const int ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
              if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
              const int c = (o / cout_g) * cin_g + ci;
              out.push_back(Conn{(int64_t(c) * x.h + iy) * x.w + ix, (int64_t(o) * y.h + oy) * y.w + ox,
                                 (int64_t(o) * w.c + ci) * w.h * w.w + ky * w.w + kx});
            }
  return out;
}

// The textbook per-connection LRP of one layer, in double: for every output j, contributions
// z_ij (rule-specific), R_i += z_ij R_j / stab(sum_i z_ij + bias_j).
OwnedTensorD reference_lrp(const LrpRuleSpec& s, const TensorD& x, const TensorD& w, const TensorD& b,
                           const Conv2dParams& p, const TensorD& r) {
  const Shape ys = r.shape();
  const std::vector<Conn> conns = connections(x.shape(), w.shape(), p, ys);
  OwnedTensorD out(x.shape());
  for (int64_t k = 0; k < out.numel(); ++k) out.data()[k] = 0;
  const int64_t ny = ys.image_size();
  const double eps = s.epsilon, g = s.gamma;
  auto pos = [](double v) { return std::max(v, 0.0); };
  auto neg = [](double v) { return std::min(v, 0.0); };
  const int hw = x.h() * x.w();
  for (int n = 0; n < x.n(); ++n) {
    const double* xi = x.image(n);
    // z_ij for one "part" (a function of x_i, w_ij, channel of i), its bias term, gate and weight.
    auto run_part = [&](const std::function<double(double, double, int)>& zij, const std::function<double(int)>& bias,
                        const std::function<bool(int64_t)>& gate, double coef) {
      std::vector<double> den(ny, 0.0);
      for (const Conn& c : conns) den[c.j] += zij(xi[c.i], w.data()[c.w], int(c.i / hw));
      for (int64_t j = 0; j < ny; ++j) den[j] += bias(int(j / (ys.h * ys.w)));
      for (const Conn& c : conns) {
        if (!gate(c.j)) continue;
        out.image(n)[c.i] += coef * zij(xi[c.i], w.data()[c.w], int(c.i / hw)) * r.image(n)[c.j] / stab(den[c.j], eps);
      }
    };
    auto bias_of = [&](const std::function<double(double)>& f) {
      return [&, f](int o) { return b.defined() ? f(b.data()[o]) : 0.0; };
    };
    auto all = [](int64_t) { return true; };
    std::vector<double> z(ny, 0.0);
    for (const Conn& c : conns) z[c.j] += xi[c.i] * w.data()[c.w];
    for (int64_t j = 0; j < ny; ++j) z[j] += b.defined() ? b.data()[j / (ys.h * ys.w)] : 0.0;
    switch (s.kind) {
      case LrpRuleKind::epsilon:
        run_part([](double xv, double wv, int) { return xv * wv; }, bias_of([](double v) { return v; }), all, 1);
        break;
      case LrpRuleKind::zplus:
        run_part([&](double xv, double wv, int) { return pos(xv) * pos(wv) + neg(xv) * neg(wv); }, bias_of(pos), all, 1);
        break;
      case LrpRuleKind::alpha_beta:
        run_part([&](double xv, double wv, int) { return pos(xv) * pos(wv) + neg(xv) * neg(wv); }, bias_of(pos), all,
                 s.alpha);
        run_part([&](double xv, double wv, int) { return pos(xv) * neg(wv) + neg(xv) * pos(wv); }, bias_of(neg), all,
                 -s.beta);
        break;
      case LrpRuleKind::gamma:
        run_part([&](double xv, double wv, int) { return pos(xv) * (wv + g * pos(wv)) + neg(xv) * (wv + g * neg(wv)); },
                 bias_of([&](double v) { return v + g * pos(v); }), [&](int64_t j) { return z[j] > 0; }, 1);
        run_part([&](double xv, double wv, int) { return pos(xv) * (wv + g * neg(wv)) + neg(xv) * (wv + g * pos(wv)); },
                 bias_of([&](double v) { return v + g * neg(v); }), [&](int64_t j) { return z[j] < 0; }, 1);
        break;
      case LrpRuleKind::zbox:
        run_part([&](double xv, double wv, int c) { return xv * wv - s.low[c] * pos(wv) - s.high[c] * neg(wv); },
                 [](int) { return 0.0; }, all, 1);
        break;
      case LrpRuleKind::flat:
        run_part([](double, double, int) { return 1.0; }, [](int) { return 0.0; }, all, 1);
        break;
      case LrpRuleKind::wsquare:
        run_part([](double, double wv, int) { return wv * wv; }, bias_of([](double v) { return v * v; }), all, 1);
        break;
      default:
        ADD_FAILURE() << "no reference for " << lrp_rule_kind_name(s.kind);
    }
  }
  return out;
}

const LrpRuleKind kWeightRules[] = {LrpRuleKind::epsilon, LrpRuleKind::zplus, LrpRuleKind::alpha_beta,
                                    LrpRuleKind::gamma,   LrpRuleKind::zbox,  LrpRuleKind::flat,
                                    LrpRuleKind::wsquare};

LrpRuleSpec full_spec(LrpRuleKind k, int channels) {
  LrpRuleSpec s = spec_of(k, 1e-3);  // a visible stabiliser: the reference must place it identically
  s.gamma = 0.3;
  s.alpha = 2, s.beta = 1;
  for (int c = 0; c < channels; ++c) {
    s.low.push_back(-1.1f - 0.1f * float(c));
    s.high.push_back(1.2f + 0.2f * float(c));
  }
  return s;
}

// max |got - want| / max |want|.
double relative_error(const Tensor& got, const TensorD& want) {
  double m = 0, d = 0;
  for (int64_t k = 0; k < want.numel(); ++k) {
    m = std::max(m, std::abs(want.data()[k]));
    d = std::max(d, std::abs(double(got.data()[k]) - want.data()[k]));
  }
  return m > 0 ? d / m : d;
}

// x (2 images, 3 x 5 x 5, values in [-1, 1]) -> [relu] -> conv 4 x 3 x 3 x 3, stride 2, pad 1, bias -> y.
Graph conv_graph(bool relu_first) {
  Graph g;
  g.name = "conv";
  g.input = "x";
  g.input_shape = Shape{2, 3, 5, 5};
  std::string in = "x";
  if (relu_first) {
    g.layers.push_back(test::simple_layer(LayerKind::relu, "relu", {"x"}, "a"));
    in = "a";
  }
  g.layers.push_back(test::conv_layer("conv", in, "y", 3, 4, 3, 1, 7, 2));
  return g;
}

// x (2 images, 6 features) -> [relu] -> linear 6 -> 4 with bias -> y.
Graph linear_graph(bool relu_first) {
  Graph g;
  g.name = "linear";
  g.input = "x";
  g.input_shape = Shape{2, 6, 1, 1};
  std::string in = "x";
  if (relu_first) {
    g.layers.push_back(test::simple_layer(LayerKind::relu, "relu", {"x"}, "a"));
    in = "a";
  }
  g.layers.push_back(test::linear_layer("fc", in, "y", 6, 4, 9));
  return g;
}

void check_against_reference(const std::function<Graph()>& make, const std::string& layer, bool relu_first, Shape ys) {
  const Graph g = make();
  const LayerDesc& l = test::find_layer(g, layer);
  OwnedTensor x(g.input_shape), r(ys);
  fill_uniform(x, 3);
  fill_uniform(r, 4, -2, 2);
  OwnedTensor xin(x.shape());  // what the layer reads
  for (int64_t k = 0; k < x.numel(); ++k) xin.data()[k] = relu_first ? std::max(x.data()[k], 0.f) : x.data()[k];
  Conv2dParams p = l.kind == LayerKind::conv ? l.conv : Conv2dParams{};
  const Shape ws = l.kind == LayerKind::conv ? l.weights[0].shape() : Shape{ys.c, int(x.shape().image_size()), 1, 1};
  // The linear layer as a 1x1 conv over a {K, 1, 1} input.
  const OwnedTensorD xd = test::to_double(xin), rd = test::to_double(r);
  const OwnedTensorD wd = test::to_double(l.weights[0]), bd = test::to_double(l.weights[1]);
  TensorD xr = xd;
  if (l.kind == LayerKind::linear) xr = TensorD(xd.data(), Shape{x.n(), x.c(), 1, 1});
  TensorD wr(wd.data(), ws);
  for (LrpRuleKind k : kWeightRules) {
    const LrpRuleSpec s = full_spec(k, x.c());
    std::vector<LrpRuleSpec> specs = {s};
    std::vector<std::string> layers = {layer};
    if (relu_first) specs.push_back(spec_of(LrpRuleKind::pass)), layers.push_back("relu");
    for (Stash stash : {Stash::full, Stash::compact}) {
      const OwnedTensor got = relevance_in(make(), specs, layers, x, r, "y", stash);
      const OwnedTensorD want = reference_lrp(s, xr, wr, bd, p, rd);
      EXPECT_LT(relative_error(got, want), 2e-5)
          << lrp_rule_kind_name(k) << " on " << layer << (relu_first ? " after a ReLU" : "")
          << (stash == Stash::compact ? " (compact plan)" : "");
    }
  }
}

}  // namespace

TEST(LrpRules, EveryRuleOnAConvMatchesThePerConnectionReference) {
  check_against_reference([] { return conv_graph(false); }, "conv", false, Shape{2, 4, 3, 3});
}

TEST(LrpRules, EveryRuleOnAConvAfterAReluMatchesThePerConnectionReference) {
  check_against_reference([] { return conv_graph(true); }, "conv", true, Shape{2, 4, 3, 3});
}

TEST(LrpRules, EveryRuleOnALinearLayerMatchesThePerConnectionReference) {
  check_against_reference([] { return linear_graph(false); }, "fc", false, Shape{2, 4, 1, 1});
  check_against_reference([] { return linear_graph(true); }, "fc", true, Shape{2, 4, 1, 1});
}

namespace {

// Central differences of g(x) = sum_j s_j * (conv(x; w') + b')_j at x (double, reference conv).
OwnedTensorD numeric_gradient(const TensorD& x, const TensorD& w, const TensorD& b, const Conv2dParams& p,
                              const TensorD& s) {
  OwnedTensorD y(s.shape()), xp(x.shape()), g(x.shape());
  auto value = [&](const TensorD& xx) {
    conv2d_forward_reference<double>(p, xx, w, b, y);
    double v = 0;
    for (int64_t k = 0; k < y.numel(); ++k) v += s.data()[k] * y.data()[k];
    return v;
  };
  for (int64_t k = 0; k < x.numel(); ++k) xp.data()[k] = x.data()[k];
  const double h = 1e-4;
  for (int64_t k = 0; k < x.numel(); ++k) {
    xp.data()[k] = x.data()[k] + h;
    const double up = value(xp);
    xp.data()[k] = x.data()[k] - h;
    const double down = value(xp);
    xp.data()[k] = x.data()[k];
    g.data()[k] = (up - down) / (2 * h);
  }
  return g;
}

OwnedTensorD map_weights(const TensorD& t, const std::function<double(double)>& f) {
  OwnedTensorD o(t.shape());
  for (int64_t k = 0; k < t.numel(); ++k) o.data()[k] = f(t.data()[k]);
  return o;
}

}  // namespace

// Each rule as the gradient of a modified forward: with s_j = R_j * gate_j / stab(z'_j(x)) held
// fixed, R_i = x_i * d/dx_i sum_j s_j z'_j(x) (summed over the rule's parts). Nonnegative input
// (a ReLU in front), as in every layer of a ReLU network but the first.
TEST(LrpRules, EachRuleIsTheGradientOfAModifiedForward) {
  const Graph g = conv_graph(true);
  const LayerDesc& l = test::find_layer(g, "conv");
  OwnedTensor x(g.input_shape), r(Shape{2, 4, 3, 3});
  fill_uniform(x, 11);
  fill_uniform(r, 12, -2, 2);
  OwnedTensorD a(x.shape());  // the conv's input, relu(x)
  for (int64_t k = 0; k < x.numel(); ++k) a.data()[k] = std::max(double(x.data()[k]), 0.0);
  const OwnedTensorD w = test::to_double(l.weights[0]), b = test::to_double(l.weights[1]), rd = test::to_double(r);
  const double gm = 0.3, eps = 1e-3;
  auto pos = [](double v) { return std::max(v, 0.0); };
  auto neg = [](double v) { return std::min(v, 0.0); };
  // One part: z' = conv(a; f(w)) + f(b); s = R gate / stab(z'); returns coef * a * grad.
  auto part = [&](const std::function<double(double)>& f, const std::function<bool(double)>& gate, double coef,
                  OwnedTensorD& acc) {
    const OwnedTensorD wm = map_weights(w, f), bm = map_weights(b, f);
    OwnedTensorD z(rd.shape()), z0(rd.shape()), s(rd.shape());
    conv2d_forward_reference<double>(l.conv, a, wm, bm, z);
    conv2d_forward_reference<double>(l.conv, a, w, b, z0);
    for (int64_t k = 0; k < s.numel(); ++k) s.data()[k] = gate(z0.data()[k]) ? rd.data()[k] / stab(z.data()[k], eps) : 0;
    const OwnedTensorD grad = numeric_gradient(a, wm, bm, l.conv, s);
    for (int64_t k = 0; k < acc.numel(); ++k) acc.data()[k] += coef * a.data()[k] * grad.data()[k];
  };
  auto any = [](double) { return true; };
  struct Case {
    LrpRuleKind kind;
    std::function<void(OwnedTensorD&)> fd;
  };
  const Case cases[] = {
      {LrpRuleKind::epsilon, [&](OwnedTensorD& acc) { part([](double v) { return v; }, any, 1, acc); }},
      {LrpRuleKind::zplus, [&](OwnedTensorD& acc) { part(pos, any, 1, acc); }},
      {LrpRuleKind::alpha_beta,
       [&](OwnedTensorD& acc) {
         part(pos, any, 2, acc);
         part(neg, any, -1, acc);
       }},
      {LrpRuleKind::gamma,
       [&](OwnedTensorD& acc) {
         part([&](double v) { return v + gm * pos(v); }, [](double z) { return z > 0; }, 1, acc);
         part([&](double v) { return v + gm * neg(v); }, [](double z) { return z < 0; }, 1, acc);
       }},
  };
  for (const Case& c : cases) {
    LrpRuleSpec s = spec_of(c.kind, eps);
    s.gamma = gm;
    const OwnedTensor got = relevance_in(conv_graph(true), {s, spec_of(LrpRuleKind::pass)}, {"conv", "relu"}, x, r, "y");
    OwnedTensorD want(x.shape());
    for (int64_t k = 0; k < want.numel(); ++k) want.data()[k] = 0;
    c.fd(want);
    // Where x < 0 the ReLU passes the relevance of a = 0: zero on both sides.
    EXPECT_LT(relative_error(got, want), 1e-5) << lrp_rule_kind_name(c.kind);
  }
}

// Average pooling by the norm rule: R_i = x_i / k * R_j / stab(mean_j); LRN passes R unchanged.
Graph pool_graph() {
  Graph g;
  g.name = "pool";
  g.input = "x";
  g.input_shape = Shape{1, 2, 4, 4};
  LayerDesc lrn = test::simple_layer(LayerKind::lrn, "norm", {"x"}, "n");
  lrn.lrn = LrnParams{3, 0.5f, 0.75f, 1.f};
  g.layers.push_back(std::move(lrn));
  g.layers.push_back(test::pool_layer("pool", "n", "y", Pool2dParams::make(PoolMode::average, 2, 2)));
  return g;
}

TEST(LrpRules, NormOnAveragePoolingAndPassOnLrn) {
  OwnedTensor x(Shape{1, 2, 4, 4}), r(Shape{1, 2, 2, 2});
  fill_uniform(x, 21, 0.1, 1.0);
  fill_uniform(r, 22, -1, 1);
  const OwnedTensor got =
      relevance_in(pool_graph(), {spec_of(LrpRuleKind::norm, 1e-9), spec_of(LrpRuleKind::pass)}, {"pool", "norm"}, x, r, "y");
  double total_in = 0, total_out = 0;
  // The LRN output, computed by the network itself (its forward is tested elsewhere).
  const Network net(pool_graph(), Device::cpu);
  Plan p = net.plan(x.shape(), {"n"});
  net.forward(p, x);
  OwnedTensor n(x.shape());
  net.read_activation(p, "n", n);
  for (int c = 0; c < 2; ++c)
    for (int oi = 0; oi < 2; ++oi)
      for (int oj = 0; oj < 2; ++oj) {
        double sum = 0;
        for (int di = 0; di < 2; ++di)
          for (int dj = 0; dj < 2; ++dj) sum += n.at(0, c, 2 * oi + di, 2 * oj + dj);
        total_out += r.at(0, c, oi, oj);
        for (int di = 0; di < 2; ++di)
          for (int dj = 0; dj < 2; ++dj) {
            const double want = n.at(0, c, 2 * oi + di, 2 * oj + dj) / sum * r.at(0, c, oi, oj);
            EXPECT_NEAR(got.at(0, c, 2 * oi + di, 2 * oj + dj), want, 1e-6);
            total_in += got.at(0, c, 2 * oi + di, 2 * oj + dj);
          }
      }
  EXPECT_NEAR(total_in, total_out, 1e-5);
}

TEST(LrpRules, RulesOnTheWrongLayersAreClearErrors) {
  const Network net(conv_graph(true), Device::cpu);
  auto error_of = [&](LrpRuleSpec s, const std::string& layer) {
    try {
      lrp_rule("bad", RuleTarget::named({layer}), s, net);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of(spec_of(LrpRuleKind::norm), "conv").find("the norm rule is for pooling layers"), std::string::npos);
  EXPECT_NE(error_of(spec_of(LrpRuleKind::pass), "conv").find("element-wise layers"), std::string::npos);
  EXPECT_NE(error_of(spec_of(LrpRuleKind::epsilon), "relu").find("the weight rules are for conv and linear"),
            std::string::npos);
  LrpRuleSpec box = spec_of(LrpRuleKind::zbox);
  box.low = {0.f, 0.f}, box.high = {1.f, 1.f};
  EXPECT_NE(error_of(box, "conv").find("zbox bounds for 2 channels"), std::string::npos);
  LrpRuleSpec eps = spec_of(LrpRuleKind::epsilon, -1);
  EXPECT_NE(error_of(eps, "conv").find("epsilon -1"), std::string::npos);
}

TEST(LrpRules, InputSignIsKnownFromTheGraph) {
  const Graph g = test::small_net();
  auto index = [&](const std::string& name) {
    for (int i = 0; i < int(g.layers.size()); ++i)
      if (g.layers[i].name == name) return i;
    return -1;
  };
  EXPECT_FALSE(lrp_input_nonnegative(g, index("conv1")));        // the image
  EXPECT_TRUE(lrp_input_nonnegative(g, index("inc/1x1")));       // relu -> max pool -> LRN
  EXPECT_TRUE(lrp_input_nonnegative(g, index("inc/pool_proj")));  // ... -> max pool
  EXPECT_FALSE(lrp_input_nonnegative(g, index("res")));          // affine output
}

}  // namespace cuviz
