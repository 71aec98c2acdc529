// The registry of objective terms: the one list a new term joins (its registration lives in its
// own viz/term_*.cpp), the parser's lookup by name, and the helpers every term shares.
#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "core/suggest.h"
#include "viz/objective.h"
#include "viz/objective_term.h"

namespace cuviz {

extern const ObjectiveTerm kConstantTerm, kAddTerm, kScaleTerm, kMulTerm;                      // term_algebra.cpp
extern const ObjectiveTerm kChannelTerm, kNeuronTerm, kClassLogitTerm, kChannelInterpolateTerm;  // term_window.cpp
extern const ObjectiveTerm kDeepdreamTerm;                                                      // term_deepdream.cpp
extern const ObjectiveTerm kDirectionTerm, kDirectionCossimTerm;                                // term_direction.cpp
extern const ObjectiveTerm kDiversityTerm;                                                      // term_diversity.cpp
extern const ObjectiveTerm kL1Term, kL2Term, kTvTerm, kBlurTerm, kTv2Term;                      // term_regularizer.cpp
extern const ObjectiveTerm kAlphaNormTerm, kTvBetaTerm;                                         // term_regularizer.cpp
extern const ObjectiveTerm kL2ToTerm, kDotToTerm;                                               // term_l2_to.cpp
extern const ObjectiveTerm kGuideTerm;                                                          // term_guide.cpp
extern const ObjectiveTerm kContentTerm, kStyleTerm;                                            // term_style.cpp

const std::vector<const ObjectiveTerm*>& objective_terms() {
  // The order is the order of the parser's "unknown function" listing.
  static const std::vector<const ObjectiveTerm*> terms = {
      &kChannelTerm,   &kNeuronTerm,   &kClassLogitTerm,      &kDeepdreamTerm,
      &kDiversityTerm, &kDirectionTerm, &kDirectionCossimTerm, &kChannelInterpolateTerm,
      &kL1Term,        &kL2Term,        &kTvTerm,              &kBlurTerm,
      &kTv2Term,       &kAlphaNormTerm, &kTvBetaTerm,
      &kL2ToTerm,      &kDotToTerm,     &kGuideTerm,           &kContentTerm,  &kStyleTerm,
      &kConstantTerm,  &kAddTerm,       &kScaleTerm,           &kMulTerm,
  };
  return terms;
}

const ObjectiveTerm* find_objective_term(const std::string& name) {
  for (const ObjectiveTerm* t : objective_terms()) {
    if (!t->parse) continue;
    if (name == t->name || std::find(t->aliases.begin(), t->aliases.end(), name) != t->aliases.end()) return t;
  }
  return nullptr;
}

std::string objective_term_suggestion(const std::string& name) {
  // A third of the name may be wrong (at least 2 edits): "deepdraem", "chanel", "l1_" are caught,
  // "foo" is not close to anything. One suggestion, the closest (the first registered on a tie).
  std::vector<std::string> names;
  for (const ObjectiveTerm* t : objective_terms())
    if (t->parse) names.push_back(t->name);
  return did_you_mean(name, names, std::max<size_t>(2, name.size() / 3), 1);
}

Objective make_term(const ObjectiveTerm& term, std::vector<std::string> layers, std::vector<double> args) {
  ObjectiveNode n;
  n.term = &term;
  n.layers = std::move(layers);
  n.args = std::move(args);
  return Objective(std::make_shared<const ObjectiveNode>(std::move(n)));
}

std::string objective_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

double TreeWalk::value(const ObjectiveNode& node) const {
  return node.term->value ? node.term->value(node, *this) : slot_value(node, 0);
}

void TreeWalk::backprop(const ObjectiveNode& node, double u) const {
  if (node.term->backprop)
    node.term->backprop(node, *this, u);
  else
    add_weight(node, 0, u);
}

}  // namespace cuviz
