// direction(L,v) and direction_cossim(L,v): the mean over positions of <a_p, v> and of the cosine
// of a_p and v (viz/term_direction.h). Node: layers {L}, args v (one value per channel of L).
#include <cmath>

#include "viz/objective.h"
#include "viz/term_direction.h"

namespace cuviz {

namespace {

// v as the parser reads it: the layer, then at least one signed number after commas.
std::pair<std::string, std::vector<float>> parse_direction(TermArgs& a) {
  const std::string layer = a.layer();
  std::vector<float> v;
  while (a.next()) v.push_back(float(a.number("a number")));
  if (v.empty()) a.fail("expected the direction's values after the layer");
  return {layer, std::move(v)};
}

template <class Maths>
void compile_direction(const ObjectiveNode& n, TermCompiler& c) {
  std::vector<float> v(n.args.begin(), n.args.end());
  double s = 0;
  for (float x : v) s += double(x) * x;
  CUVIZ_CHECK(s > 0, "objective ", n.term->print(n), ": the direction vector is zero");
  auto& batch = c.batch<ItemBatch<Maths>>(n.layers[0]);
  const int at = batch.add_aux(v.data(), v.size());
  for (int i = c.first(); i < c.last(); ++i) {
    LeafTask t;
    t.image = i;
    t.channel = int(v.size());  // checked against the blob's channels at bind
    t.slot = c.slot(i);
    t.aux = at;
    t.aux_norm = float(std::sqrt(s));
    batch.add(t, n.term->print(n));
  }
}

}  // namespace

extern const ObjectiveTerm kDirectionTerm, kDirectionCossimTerm;

const ObjectiveTerm kDirectionTerm{
    .name = "direction",
    .aliases = {},
    .usage = "direction(LAYER,V0,V1,...)",
    .parse = [](TermArgs& a) {
      auto [layer, v] = parse_direction(a);
      return direction(layer, std::move(v));
    },
    .print = [](const ObjectiveNode& n) { return cat("direction(", n.layers[0], ",[", n.args.size(), " values])"); },
    .compile = compile_direction<DirectionMaths>,
};

const ObjectiveTerm kDirectionCossimTerm{
    .name = "direction_cossim",
    .aliases = {},
    .usage = "direction_cossim(LAYER,V0,V1,...)",
    .parse = [](TermArgs& a) {
      auto [layer, v] = parse_direction(a);
      return direction_cossim(layer, std::move(v));
    },
    .print = [](const ObjectiveNode& n) {
      return cat("direction_cossim(", n.layers[0], ",[", n.args.size(), " values])");
    },
    .compile = compile_direction<CossimMaths>,
};

Objective direction(const std::string& layer, std::vector<float> v) {
  return make_term(kDirectionTerm, {layer}, std::vector<double>(v.begin(), v.end()));
}
Objective direction_cossim(const std::string& layer, std::vector<float> v) {
  return make_term(kDirectionCossimTerm, {layer}, std::vector<double>(v.begin(), v.end()));
}

}  // namespace cuviz
