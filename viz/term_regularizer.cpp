// The image regularizers l1(c), l2(c), tv, blur and tv2 (viz/regularizers.h) as objective terms: they
// read the untransformed [0, 1] image, not a blob, and add their gradient into d(image) after the
// network's backward. Node: no layers, args {constant} (l1, l2).
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
  };
  std::vector<Task> tasks;

  void bind(const Tensor&, const Tensor&, int, Device device) override { device_ = device; }

  void values(const Tensor& image, const StepBuffers& step) override {
    for (const Task& r : tasks) {
      const Tensor v(step.values + r.slot, Shape{1, 1, 1, 1}, device_);
      regularizer_forward_backward(r.kind, r.constant, image.batch(r.image, 1), v, 0.f, Tensor());
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
             tasks[e].image == r.image + int(e - k) && tasks[e].slot == r.slot + int(e - k) &&
             hw[size_t(tasks[e].slot)] == w)
        ++e;
      const int count = int(e - k);
      if (w != 0.f) {
        const Tensor v(step.values + r.slot, Shape{count, 1, 1, 1}, device_);
        regularizer_forward_backward(r.kind, r.constant, image.batch(r.image, count), v, w,
                                     dimage.batch(r.image, count));
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
  const float constant = n.args.empty() ? 0.f : float(n.args[0]);
  for (int i = c.first(); i < c.last(); ++i) batch.tasks.push_back({kind, constant, i, c.slot(i)});
}

}  // namespace

extern const ObjectiveTerm kL1Term, kL2Term, kTvTerm, kBlurTerm, kTv2Term;

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
