// The image regularizers l1(c), l2(c), tv, blur, tv2, alpha_norm(p, c) and tv_beta(p)
// (viz/regularizers.h) as objective terms: they read the untransformed [0, 1] image, not a blob,
// and add their gradient into d(image) after the network's backward. Node: no layers, args
// {constant} (l1, l2), {p, constant} (alpha_norm), {p} (tv_beta).
#include <cmath>

#include "viz/objective.h"
#include "viz/objective_term.h"
#include "viz/regularizers.h"

namespace cuviz {

namespace {

// Every regularizer leaf of the objectives, in leaf order (one batch for all four kinds, so runs
// of consecutive images and slots of one kind go in one call).
class RegularizerBatch final : public LeafBatch {
 public:
  struct Task {
    RegKind kind;
    float constant;
    int image, slot;
    float power = 0.f;  // alpha_norm, tv_beta
  };
  std::vector<Task> tasks;

  void bind(const Tensor&, const Tensor&, int, Device device) override { device_ = device; }

  void values(const Tensor& image, const StepBuffers& step) override {
    for (const Task& r : tasks) {
      const Tensor v(step.values + r.slot, Shape{1, 1, 1, 1}, device_);
      regularizer_forward_backward(r.kind, r.constant, image.batch(r.image, 1), v, 0.f, Tensor(), r.power);
    }
  }

  void add_image_gradient(const Tensor& image, const Tensor& dimage, const StepBuffers& step) override {
    // Runs of consecutive images with consecutive slots and one weight go in one call (which
    // rewrites their values, unchanged since values()).
    const std::vector<float>& hw = *step.host_weights;
    for (size_t k = 0; k < tasks.size();) {
      const Task& r = tasks[k];
      const float w = hw[size_t(r.slot)];
      size_t e = k + 1;
      while (e < tasks.size() && tasks[e].kind == r.kind && tasks[e].constant == r.constant &&
             tasks[e].power == r.power &&
             tasks[e].image == r.image + int(e - k) && tasks[e].slot == r.slot + int(e - k) &&
             hw[size_t(tasks[e].slot)] == w)
        ++e;
      const int count = int(e - k);
      if (w != 0.f) {
        const Tensor v(step.values + r.slot, Shape{count, 1, 1, 1}, device_);
        regularizer_forward_backward(r.kind, r.constant, image.batch(r.image, count), v, w,
                                     dimage.batch(r.image, count), r.power);
      }
      k = e;
    }
  }

 private:
  Device device_ = Device::cpu;
};

template <RegKind kind>
void compile_regularizer(const ObjectiveNode& n, TermCompiler& c) {
  auto& batch = c.batch<RegularizerBatch>("");
  // alpha_norm and tv_beta lead with their exponent; l1 and l2 hold their constant only.
  const bool powered = kind == RegKind::alpha || kind == RegKind::tv_beta;
  const float power = powered ? float(n.args[0]) : 0.f;
  const size_t at = powered ? 1 : 0;
  const float constant = n.args.size() > at ? float(n.args[at]) : 0.f;
  for (int i = c.first(); i < c.last(); ++i) batch.tasks.push_back({kind, constant, i, c.slot(i), power});
}

// The exponent of alpha_norm and tv_beta, checked where it is written.
bool power_ok(double p) { return std::isfinite(p) && p >= 1.0 && p <= 64.0; }
std::string power_problem(const char* term, double p) {
  return cat(term, " exponent ", objective_number(p), " out of range: it must be in 1..64 (below 1 the gradient is "
             "unbounded near 0)");
}
double checked_power(const char* term, double p) {
  CUVIZ_CHECK(power_ok(p), "objective ", term, ": ", power_problem(term, p));
  return p;
}

}  // namespace

extern const ObjectiveTerm kL1Term, kL2Term, kTvTerm, kBlurTerm, kTv2Term, kAlphaNormTerm, kTvBetaTerm;

const ObjectiveTerm kL1Term{
    .name = "l1",
    .aliases = {},
    .usage = "l1[(C)]",
    // Bare `l1`, `l1()` or `l1(0.3)`; Lucid's default distance is from 0.5.
    .parse = [](TermArgs& a) { return l1(a.at_end() ? 0.5f : float(a.number("a number"))); },
    .bare = true,
    .print = [](const ObjectiveNode& n) { return cat("l1(", objective_number(n.args[0]), ")"); },
    .compile = compile_regularizer<RegKind::l1>,
};

const ObjectiveTerm kL2Term{
    .name = "l2",
    .aliases = {},
    .usage = "l2[(C)]",
    .parse = [](TermArgs& a) { return l2(a.at_end() ? 0.f : float(a.number("a number"))); },
    .bare = true,
    .print = [](const ObjectiveNode& n) { return cat("l2(", objective_number(n.args[0]), ")"); },
    .compile = compile_regularizer<RegKind::l2>,
};

const ObjectiveTerm kTvTerm{
    .name = "tv",
    .aliases = {"total_variation"},
    .usage = "tv",
    .parse = [](TermArgs&) { return total_variation(); },
    .bare = true,
    .print = [](const ObjectiveNode&) { return std::string("tv"); },
    .compile = compile_regularizer<RegKind::tv>,
};

const ObjectiveTerm kBlurTerm{
    .name = "blur",
    .aliases = {},
    .usage = "blur",
    .parse = [](TermArgs&) { return blur(); },
    .bare = true,
    .print = [](const ObjectiveNode&) { return std::string("blur"); },
    .compile = compile_regularizer<RegKind::blur>,
};

// Mahendran & Vedaldi's alpha-norm: alpha_norm(6) or alpha_norm(6, 0.5) (centre c, default 0.5,
// the middle of the [0, 1] range, standing in for their mean-subtracted image).
const ObjectiveTerm kAlphaNormTerm{
    .name = "alpha_norm",
    .aliases = {},
    .usage = "alpha_norm(P[,C])",
    .parse = [](TermArgs& a) {
      const double p = a.number("an exponent");
      if (!power_ok(p)) a.fail(power_problem("alpha_norm", p));
      const double c = a.next() ? a.number("a number") : 0.5;
      return alpha_norm(float(p), float(c));
    },
    .print = [](const ObjectiveNode& n) {
      return cat("alpha_norm(", objective_number(n.args[0]), ",", objective_number(n.args[1]), ")");
    },
    .compile = compile_regularizer<RegKind::alpha>,
};

// Mahendran & Vedaldi's TV^beta: tv_beta(2).
const ObjectiveTerm kTvBetaTerm{
    .name = "tv_beta",
    .aliases = {},
    .usage = "tv_beta(P)",
    .parse = [](TermArgs& a) {
      const double p = a.number("an exponent");
      if (!power_ok(p)) a.fail(power_problem("tv_beta", p));
      return tv_beta(float(p));
    },
    .print = [](const ObjectiveNode& n) { return cat("tv_beta(", objective_number(n.args[0]), ")"); },
    .compile = compile_regularizer<RegKind::tv_beta>,
};

Objective alpha_norm(float power, float constant) {
  return make_term(kAlphaNormTerm, {}, {checked_power("alpha_norm", power), double(constant)});
}
Objective tv_beta(float power) { return make_term(kTvBetaTerm, {}, {checked_power("tv_beta", power)}); }

// neural-style's squared total variation (viz/regularizers.h tv2).
const ObjectiveTerm kTv2Term{
    .name = "tv2",
    .aliases = {},
    .usage = "tv2",
    .parse = [](TermArgs&) { return total_variation_squared(); },
    .bare = true,
    .print = [](const ObjectiveNode&) { return std::string("tv2"); },
    .compile = compile_regularizer<RegKind::tv2>,
};

Objective l1(float constant) { return make_term(kL1Term, {}, {double(constant)}); }
Objective l2(float constant) { return make_term(kL2Term, {}, {double(constant)}); }
Objective total_variation() { return make_term(kTvTerm); }
Objective blur() { return make_term(kBlurTerm); }
Objective total_variation_squared() { return make_term(kTv2Term); }

}  // namespace cuviz
