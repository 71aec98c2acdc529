// Window terms: channel(L,c) (spatial mean), neuron(L,c[,x,y]) (one position, the centre by
// default), class_logit(k) (the pre-softmax score, a 1 x 1 blob) and channel_interpolate, all
// means of one channel over a window (viz/term_window.h).
// Node layout: layers {L} (interpolate: {L1, L2}); args channel(c), neuron(c, x, y),
// class_logit(k), interpolate(c1, c2).
#include "viz/term_window.h"

#include "viz/objective.h"

namespace cuviz {

namespace {

int arg(const ObjectiveNode& n, size_t k) { return int(n.args[k]); }

// One window task per image of the node, on `layer`, for value part `part`.
void add_window(const ObjectiveNode& n, TermCompiler& c, const std::string& layer, int channel, int x, int y,
                int part) {
  auto& batch = c.batch<ItemBatch<WindowMaths>>(layer);
  for (int i = c.first(); i < c.last(); ++i) {
    LeafTask t;
    t.image = i;
    t.channel = channel;
    t.x0 = x;
    t.y0 = y;
    t.slot = c.slot(i, part);
    batch.add(t, n.term->print(n));
  }
}

// Image i of N: (1 - t_i) channel(L1,c1) + t_i channel(L2,c2), t_i = i/(N-1): two slots per image.
double interpolation(const TreeWalk& w) { return w.batch_size() > 1 ? double(w.image()) / (w.batch_size() - 1) : 0.0; }

}  // namespace

extern const ObjectiveTerm kChannelTerm, kNeuronTerm, kClassLogitTerm, kChannelInterpolateTerm;

const ObjectiveTerm kChannelTerm{
    .name = "channel",
    .aliases = {},
    .usage = "channel(LAYER,C)",
    .parse = [](TermArgs& a) {
      const std::string layer = a.layer();
      a.comma();
      return channel(layer, a.integer("a channel number"));
    },
    .print = [](const ObjectiveNode& n) { return cat("channel(", n.layers[0], ",", arg(n, 0), ")"); },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) {
      add_window(n, c, n.layers[0], arg(n, 0), WindowMaths::kPlane, WindowMaths::kPlane, 0);
    },
};

const ObjectiveTerm kNeuronTerm{
    .name = "neuron",
    .aliases = {},
    .usage = "neuron(LAYER,C[,X,Y])",
    .parse = [](TermArgs& a) {
      const std::string layer = a.layer();
      a.comma();
      const int c = a.integer("a channel number");
      int x = -1, y = -1;
      if (a.next()) {
        x = a.integer("a column x");
        a.comma();
        y = a.integer("a row y");
      }
      return neuron(layer, c, x, y);
    },
    .print = [](const ObjectiveNode& n) {
      return arg(n, 1) < 0 && arg(n, 2) < 0 ? cat("neuron(", n.layers[0], ",", arg(n, 0), ")")
                                            : cat("neuron(", n.layers[0], ",", arg(n, 0), ",", arg(n, 1), ",",
                                                  arg(n, 2), ")");
    },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) {
      add_window(n, c, n.layers[0], arg(n, 0), arg(n, 1), arg(n, 2), 0);
    },
};

// The layer is the pseudo-layer "logit" until resolve_objective names the softmax's input.
const ObjectiveTerm kClassLogitTerm{
    .name = "logit",
    .aliases = {"class_logit"},
    .usage = "logit(K)",
    .parse = [](TermArgs& a) { return class_logit("logit", a.integer("a class number")); },
    .print = [](const ObjectiveNode& n) { return cat("logit(", n.layers[0], ",", arg(n, 0), ")"); },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) { add_window(n, c, n.layers[0], arg(n, 0), 0, 0, 0); },
};

const ObjectiveTerm kChannelInterpolateTerm{
    .name = "interpolate",
    .aliases = {"channel_interpolate"},
    .usage = "interpolate(LAYER1,C1,LAYER2,C2)",
    .parse = [](TermArgs& a) {
      const std::string l1n = a.layer();
      a.comma();
      const int c1 = a.integer("a channel number");
      a.comma();
      const std::string l2n = a.layer();
      a.comma();
      return channel_interpolate(l1n, c1, l2n, a.integer("a channel number"));
    },
    .print = [](const ObjectiveNode& n) {
      return cat("interpolate(", n.layers[0], ",", arg(n, 0), ",", n.layers[1], ",", arg(n, 1), ")");
    },
    .value = [](const ObjectiveNode& n, const TreeWalk& w) {
      const double t = interpolation(w);
      return (1 - t) * w.slot_value(n, 0) + t * w.slot_value(n, 1);
    },
    .backprop = [](const ObjectiveNode& n, const TreeWalk& w, double u) {
      const double t = interpolation(w);
      w.add_weight(n, 0, (1 - t) * u);
      w.add_weight(n, 1, t * u);
    },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) {
      add_window(n, c, n.layers[0], arg(n, 0), WindowMaths::kPlane, WindowMaths::kPlane, 0);
      add_window(n, c, n.layers[1], arg(n, 1), WindowMaths::kPlane, WindowMaths::kPlane, 1);
    },
    .parts = 2,
};

Objective channel(const std::string& layer, int c) { return make_term(kChannelTerm, {layer}, {double(c)}); }
Objective neuron(const std::string& layer, int c, int x, int y) {
  return make_term(kNeuronTerm, {layer}, {double(c), double(x), double(y)});
}
Objective class_logit(const std::string& layer, int k) { return make_term(kClassLogitTerm, {layer}, {double(k)}); }
Objective channel_interpolate(const std::string& layer1, int c1, const std::string& layer2, int c2) {
  return make_term(kChannelInterpolateTerm, {layer1, layer2}, {double(c1), double(c2)});
}

}  // namespace cuviz
