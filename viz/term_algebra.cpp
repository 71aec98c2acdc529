// The algebra nodes: constants, a + b, s * a (a scalar factor) and a * b (a product of objectives,
// whose gradient weights depend on the values: reads_values). They have no leaves; their value
// and reverse pass recurse into the operands. Node: args {value} (constant) or {s} (scale);
// operands a, b.
#include "viz/objective.h"
#include "viz/objective_term.h"

namespace cuviz {

extern const ObjectiveTerm kConstantTerm, kAddTerm, kScaleTerm, kMulTerm;

namespace {

bool is(const ObjectiveNode& n, const ObjectiveTerm& t) { return n.term == &t; }

std::string str(const ObjectiveNode& n) { return n.term->print(n); }

// Sums print bare inside a sum, in parentheses as a factor.
std::string factor(const ObjectiveNode& n) { return is(n, kAddTerm) ? cat("(", str(n), ")") : str(n); }

Objective node2(const ObjectiveTerm& term, const Objective& a, const Objective& b) {
  ObjectiveNode n;
  n.term = &term;
  n.a = a.ptr();
  n.b = b.ptr();
  return Objective(std::make_shared<const ObjectiveNode>(std::move(n)));
}

}  // namespace

const ObjectiveTerm kConstantTerm{
    .name = "constant",
    .aliases = {},
    .usage = "a number",
    .print = [](const ObjectiveNode& n) { return objective_number(n.args[0]); },
    .value = [](const ObjectiveNode& n, const TreeWalk&) { return n.args[0]; },
    .backprop = [](const ObjectiveNode&, const TreeWalk&, double) {},
};

const ObjectiveTerm kAddTerm{
    .name = "+",
    .aliases = {},
    .usage = "A + B",
    // a + (-s * b) prints as a - s*b.
    .print = [](const ObjectiveNode& n) {
      const ObjectiveNode& b = *n.b;
      if (is(b, kScaleTerm) && b.args[0] < 0) {
        const std::string rhs = b.args[0] == -1 ? str(*b.a) : cat(objective_number(-b.args[0]), "*", str(*b.a));
        return cat(str(*n.a), " - ", rhs);
      }
      return cat(str(*n.a), " + ", str(b));
    },
    .value = [](const ObjectiveNode& n, const TreeWalk& w) { return w.value(*n.a) + w.value(*n.b); },
    .backprop = [](const ObjectiveNode& n, const TreeWalk& w, double u) {
      w.backprop(*n.a, u);
      w.backprop(*n.b, u);
    },
};

const ObjectiveTerm kScaleTerm{
    .name = "*",
    .aliases = {},
    .usage = "S * A",
    .print = [](const ObjectiveNode& n) {
      return n.args[0] == -1 ? cat("-", factor(*n.a)) : cat(objective_number(n.args[0]), "*", factor(*n.a));
    },
    .value = [](const ObjectiveNode& n, const TreeWalk& w) { return n.args[0] * w.value(*n.a); },
    .backprop = [](const ObjectiveNode& n, const TreeWalk& w, double u) { w.backprop(*n.a, u * n.args[0]); },
};

const ObjectiveTerm kMulTerm{
    .name = "*",
    .aliases = {},
    .usage = "A * B",
    .print = [](const ObjectiveNode& n) { return cat(factor(*n.a), " * ", factor(*n.b)); },
    .value = [](const ObjectiveNode& n, const TreeWalk& w) { return w.value(*n.a) * w.value(*n.b); },
    // d(ab) = b da + a db: the weights need the values of this step.
    .backprop = [](const ObjectiveNode& n, const TreeWalk& w, double u) {
      w.backprop(*n.a, u * w.value(*n.b));
      w.backprop(*n.b, u * w.value(*n.a));
    },
    .reads_values = true,
};

Objective constant(double v) { return make_term(kConstantTerm, {}, {v}); }

Objective operator+(const Objective& a, const Objective& b) {
  CUVIZ_CHECK(a.defined() && b.defined(), "objective: '+' of an empty objective");
  return node2(kAddTerm, a, b);
}

// Scalars fold: s * constant is a constant, s * (t * a) is (s t) * a.
Objective operator*(double s, const Objective& a) {
  CUVIZ_CHECK(a.defined(), "objective: scaling an empty objective");
  if (is(a.node(), kConstantTerm)) return constant(s * a.node().args[0]);
  if (is(a.node(), kScaleTerm)) return (s * a.node().args[0]) * Objective(a.node().a);
  ObjectiveNode n;
  n.term = &kScaleTerm;
  n.args = {s};
  n.a = a.ptr();
  return Objective(std::make_shared<const ObjectiveNode>(std::move(n)));
}
Objective operator*(const Objective& a, double s) { return s * a; }
Objective operator-(const Objective& a) { return -1.0 * a; }
Objective operator-(const Objective& a, const Objective& b) { return a + (-1.0 * b); }

Objective operator*(const Objective& a, const Objective& b) {
  CUVIZ_CHECK(a.defined() && b.defined(), "objective: '*' of an empty objective");
  if (is(a.node(), kConstantTerm)) return a.node().args[0] * b;
  if (is(b.node(), kConstantTerm)) return b.node().args[0] * a;
  return node2(kMulTerm, a, b);
}

}  // namespace cuviz
