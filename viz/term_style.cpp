// content(L, P) and style(L, T, norm) (viz/term_style.h). content is an item term on
// ItemBatch<L2ToMaths> (viz/term_l2_to.h) with the norm |P| instead of ||P||^2, so its values and
// seeds are l2_to's CPU loops and CUDA kernels. style has its own batch over the Gram op of
// kernels/gram.h: values = style_loss_forward (G kept), seeds = style_loss_backward (dE/dG formed
// and multiplied into dF in one pass, weighted by dL/d(slot) read on the device).
// Nodes: content: layers {L}, args {|P|}, data = P {1, C, H, W}; style: layers {L}, args {norm},
// data = T {1, C, C, 1}; both on the CPU.
#include "viz/term_style.h"

#include <cmath>

#include "viz/objective_items.h"
#include "viz/objective_term.h"
#include "viz/term_l2_to.h"
#include "viz/term_target.h"

namespace cuviz {

namespace {

// Every style leaf on one blob: one Gram buffer, target and slot per leaf (per image it applies to).
class StyleBatch final : public LeafBatch {
 public:
  struct Task {
    int image, slot;
    GramNorm norm;
    std::shared_ptr<const OwnedTensor> target;
    std::string label;
  };
  std::vector<Task> tasks;

  void bind(const Tensor& act, const Tensor& grad, int, Device device) override {
    act_ = act;
    grad_ = grad;
    device_ = device;
    const int c = act.c();
    gram_.resize(tasks.size());
    scratch_.resize(tasks.size());
    targets_.resize(tasks.size());
    for (size_t k = 0; k < tasks.size(); ++k) {
      const Shape t = tasks[k].target->shape();
      CUVIZ_CHECK(t.c == c, "objective ", tasks[k].label, ": the style target is a ", t.c, " x ", t.c,
                  " Gram matrix, but ", layer, " has ", c, " channels (compute it at the same layer)");
      ensure_shape(gram_[k], Shape{1, c, c, 1}, device);
      if (device == Device::cpu) ensure_shape(scratch_[k], Shape{1, c, c, 1}, device);
      ensure_shape(targets_[k], t, device);
      copy(*tasks[k].target, targets_[k]);
    }
    host_slots_.clear();
    for (const Task& t : tasks) host_slots_.push_back(t.slot);
    if (device == Device::cuda) upload_to(slots_dev_, host_slots_.data(), host_slots_.size() * sizeof(int), device);
  }
  void take_buffers(LeafBatch& old) override {
    auto& o = static_cast<StyleBatch&>(old);
    gram_ = std::move(o.gram_);
    scratch_ = std::move(o.scratch_);
    targets_ = std::move(o.targets_);
    slots_dev_ = std::move(o.slots_dev_);
  }
  void values(const Tensor&, const StepBuffers& step) override {
    for (size_t k = 0; k < tasks.size(); ++k)
      style_loss_forward(tasks[k].norm, act_.batch(tasks[k].image, 1), targets_[k], gram_[k], step.values, slot(k));
  }
  void seed(const StepBuffers& step) override {
    for (size_t k = 0; k < tasks.size(); ++k) {
      const Task& t = tasks[k];
      if (device_ == Device::cpu && step.weights[t.slot] == 0.f) continue;
      style_loss_backward(t.norm, act_.batch(t.image, 1), gram_[k], targets_[k], step.weights, slot(k),
                          grad_.batch(t.image, 1), scratch_[k]);
    }
  }

 private:
  // The slot of task k as the op reads it (on the device): a pointer to one int.
  const int* slot(size_t k) const {
    return device_ == Device::cuda ? static_cast<const int*>(slots_dev_.data()) + k : host_slots_.data() + k;
  }
  Tensor act_, grad_;
  Device device_ = Device::cpu;
  std::vector<OwnedTensor> gram_, scratch_, targets_;
  std::vector<int> host_slots_;
  Buffer slots_dev_;
};

}  // namespace

extern const ObjectiveTerm kContentTerm, kStyleTerm;

const ObjectiveTerm kContentTerm{
    .name = "content",
    .aliases = {},
    .usage = "content(LAYER, target tensor), in code only",
    .parse = [](TermArgs& a) -> Objective {
      a.fail("content takes the content image's features, which an expression cannot write: use `cuviz style` or "
             "content_loss(layer, target) (viz/term_style.h)");
      return {};
    },
    .print = [](const ObjectiveNode& n) {
      const Shape s = n.data->shape();
      return cat("content(", n.layers[0], ",[target ", s.c, "x", s.h, "x", s.w, "])");
    },
    .compile = compile_to_target<L2ToMaths>,  // aux_norm = args[0] = |P|: the mean of the squared differences
};

const ObjectiveTerm kStyleTerm{
    .name = "style",
    .aliases = {},
    .usage = "style(LAYER, Gram target), in code only",
    .parse = [](TermArgs& a) -> Objective {
      a.fail("style takes the style images' Gram matrix, which an expression cannot write: use `cuviz style` or "
             "style_loss(layer, target) (viz/term_style.h)");
      return {};
    },
    .print = [](const ObjectiveNode& n) {
      const Shape s = n.data->shape();
      return cat("style(", n.layers[0], ",[gram ", s.c, "x", s.c, "],", gram_norm_name(GramNorm(int(n.args[0]))), ")");
    },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) {
      auto& batch = c.batch<StyleBatch>(n.layers[0]);
      for (int i = c.first(); i < c.last(); ++i)
        batch.tasks.push_back({i, c.slot(i), GramNorm(int(n.args[0])), n.data, n.term->print(n)});
    },
};

Objective content_loss(const std::string& layer, OwnedTensor target) {
  const Shape s = target.shape();
  CUVIZ_CHECK(target.device() == Device::cpu && s.n == 1, "objective content(", layer,
              "): the target must be one image {1, C, H, W} on the CPU, got ", s.str());
  ObjectiveNode n;
  n.term = &kContentTerm;
  n.layers = {layer};
  n.args = {double(s.image_size())};
  n.data = std::make_shared<const OwnedTensor>(std::move(target));
  return Objective(std::make_shared<const ObjectiveNode>(std::move(n)));
}

Objective style_loss(const std::string& layer, OwnedTensor target, GramNorm norm) {
  const Shape s = target.shape();
  CUVIZ_CHECK(target.device() == Device::cpu && s.n == 1 && s.h == s.c && s.w == 1, "objective style(", layer,
              "): the target must be one C x C Gram matrix {1, C, C, 1} on the CPU, got ", s.str());
  for (int64_t k = 0; k < s.numel(); ++k)
    CUVIZ_CHECK(std::isfinite(target.data()[k]), "objective style(", layer, "): the Gram target is not finite");
  ObjectiveNode n;
  n.term = &kStyleTerm;
  n.layers = {layer};
  n.args = {double(int(norm))};
  n.data = std::make_shared<const OwnedTensor>(std::move(target));
  return Objective(std::make_shared<const ObjectiveNode>(std::move(n)));
}

OwnedTensor gram_matrix(const Tensor& features, GramNorm norm) {
  CUVIZ_CHECK(features.n() == 1, "gram_matrix: one image, got ", features.shape().str());
  OwnedTensor g(Shape{1, features.c(), features.c(), 1}, features.device());
  gram_forward(norm, features, g);
  if (features.device() == Device::cpu) return g;
  OwnedTensor host(g.shape());
  copy(g, host);
  return host;
}

}  // namespace cuviz
