// deepdream(L): mean of squared activations of L (viz/term_deepdream.h). Node: layers {L}.
#include "viz/term_deepdream.h"

#include "viz/objective.h"

namespace cuviz {

extern const ObjectiveTerm kDeepdreamTerm;

const ObjectiveTerm kDeepdreamTerm{
    .name = "deepdream",
    .aliases = {},
    .usage = "deepdream(LAYER)",
    .parse = [](TermArgs& a) { return deepdream(a.layer()); },
    .print = [](const ObjectiveNode& n) { return cat("deepdream(", n.layers[0], ")"); },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) {
      auto& batch = c.batch<ItemBatch<DeepdreamMaths>>(n.layers[0]);
      for (int i = c.first(); i < c.last(); ++i) {
        LeafTask t;
        t.image = i;
        t.slot = c.slot(i);
        batch.add(t, n.term->print(n));
      }
    },
};

Objective deepdream(const std::string& layer) { return make_term(kDeepdreamTerm, {layer}); }

}  // namespace cuviz
