// The objective evaluator of the render loop: compiling expressions into slots and leaf batches
// through the terms' compile hooks, the host-side expression algebra (values and slot weights by
// reverse mode on the tree, through the terms' value/backprop hooks), and the step's calls into
// the batches. Nothing here knows what any term computes.
#include "viz/objective_eval.h"

#include <algorithm>
#include <functional>

#include "core/error.h"

namespace cuviz {

void upload_to(Buffer& b, const void* data, size_t bytes, Device device) {
  if (b.bytes() != bytes || b.device() != device) b = Buffer(bytes, device);
  const Shape s{1, 1, 1, int(bytes / sizeof(float))};
  copy(Tensor(static_cast<float*>(const_cast<void*>(data)), s), Tensor(static_cast<float*>(b.data()), s, device));
}

void ensure_shape(OwnedTensor& t, Shape shape, Device device) {
  if (!(t.shape() == shape) || t.device() != device || !t.data()) t = OwnedTensor(shape, device);
}

// The compile hooks' view of one node on images [first, last).
class ObjectiveEvaluator::Compiler final : public TermCompiler {
 public:
  Compiler(ObjectiveEvaluator& e, const ObjectiveNode& node, int first, int last)
      : e_(e), node_(node), first_(first), last_(last) {}
  int first() const override { return first_; }
  int last() const override { return last_; }
  int batch_size() const override { return e_.n_; }
  int slot(int image, int part) const override {
    const auto it = e_.slots_.find(std::make_tuple(&node_, image, part));
    CUVIZ_CHECK(it != e_.slots_.end(), "objective: internal error: no slot ", part, " for ",
                node_.term->print(node_), " on image ", image);
    return it->second;
  }

 protected:
  LeafBatch& batch_of(std::type_index type, const std::string& layer, std::unique_ptr<LeafBatch> (*make)()) override {
    for (Batch& b : e_.batches_)
      if (b.type == type && b.batch->layer == layer) return *b.batch;
    e_.batches_.push_back(Batch{type, make()});
    e_.batches_.back().batch->layer = layer;
    if (!layer.empty() && std::find(e_.layers_.begin(), e_.layers_.end(), layer) == e_.layers_.end())
      e_.layers_.push_back(layer);
    return *e_.batches_.back().batch;
  }

 private:
  ObjectiveEvaluator& e_;
  const ObjectiveNode& node_;
  int first_, last_;
};

// The value/backprop hooks' view of image i's slot values and weights.
class ObjectiveEvaluator::Walk final : public TreeWalk {
 public:
  Walk(const ObjectiveEvaluator& e, int image, const std::vector<float>& values, std::vector<double>* weights)
      : e_(e), image_(image), values_(values), weights_(weights) {}
  int image() const override { return image_; }
  int batch_size() const override { return e_.n_; }
  double slot_value(const ObjectiveNode& node, int part) const override { return values_[slot(node, part)]; }
  void add_weight(const ObjectiveNode& node, int part, double u) const override { (*weights_)[slot(node, part)] += u; }

 private:
  size_t slot(const ObjectiveNode& node, int part) const {
    const auto it = e_.slots_.find(std::make_tuple(&node, image_, part));
    CUVIZ_CHECK(it != e_.slots_.end(), "objective: internal error: no slot for ", node.term->print(node),
                " on image ", image_);
    return size_t(it->second);
  }
  const ObjectiveEvaluator& e_;
  int image_;
  const std::vector<float>& values_;
  std::vector<double>* weights_;
};

ObjectiveEvaluator::ObjectiveEvaluator(const std::vector<Objective>& per_image, int n) : n_(n) {
  CUVIZ_CHECK(n >= 1, "objective: batch of ", n, " images");
  CUVIZ_CHECK(per_image.size() == 1 || int(per_image.size()) == n, "objective: ", per_image.size(),
              " objectives for a batch of ", n, " images (give one for all, or one per image)");
  objectives_ = per_image;
  for (const auto& o : objectives_) CUVIZ_CHECK(o.defined(), "objective: empty objective");
  // Slots of leaf (node, part) for image i: numbered leaf by leaf, image by image within a leaf,
  // so a leaf shared by every image has consecutive slots (one regularizer call for the batch).
  if (objectives_.size() == 1) {
    add_leaves(objectives_[0].node(), -1);
  } else {
    for (int i = 0; i < n; ++i) add_leaves(objectives_[i].node(), i);
  }
  std::function<bool(const ObjectiveNode&)> reads = [&](const ObjectiveNode& x) {
    return x.term->reads_values || (x.a && reads(*x.a)) || (x.b && reads(*x.b));
  };
  for (const auto& o : objectives_) needs_values_ = needs_values_ || reads(o.node());
}

// image -1: the leaf belongs to the objective shared by all images.
void ObjectiveEvaluator::add_leaves(const ObjectiveNode& node, int image) {
  if (node.a) add_leaves(*node.a, image);
  if (node.b) add_leaves(*node.b, image);
  if (!node.term->compile) return;
  const int first = image < 0 ? 0 : image, last = image < 0 ? n_ : image + 1;
  if (slots_.count(std::make_tuple(&node, first, 0))) return;  // a node shared inside one expression
  for (int part = 0; part < node.term->parts; ++part)
    for (int i = first; i < last; ++i) slots_[std::make_tuple(&node, i, part)] = n_slots_++;
  Compiler c(*this, node, first, last);
  node.term->compile(node, c);
}

const ObjectiveNode& ObjectiveEvaluator::objective_of(int image) const {
  return objectives_.size() == 1 ? objectives_[0].node() : objectives_[size_t(image)].node();
}

void ObjectiveEvaluator::bind(const Network& net, Plan& plan, Device device) {
  CUVIZ_CHECK(!bound_, "objective: evaluator bound twice");
  device_ = device;
  for (Batch& b : batches_) {
    const std::string& layer = b.batch->layer;
    Tensor act, grad;
    if (!layer.empty()) {
      act = net.activation(plan, layer);
      grad = net.activation_grad(plan, layer);
      CUVIZ_CHECK(act.n() == n_, "objective: blob ", layer, " has batch ", act.n(), ", the render ", n_);
    }
    b.batch->bind(act, grad, n_, device);
  }
  ensure_shape(values_, Shape{1, 1, 1, std::max(n_slots_, 1)}, device);
  ensure_shape(weights_, Shape{1, 1, 1, std::max(n_slots_, 1)}, device);
  fill(values_, 0.f);
  host_values_.assign(size_t(std::max(n_slots_, 1)), 0.f);
  host_weights_.assign(size_t(std::max(n_slots_, 1)), 0.f);
  bound_ = true;
  update_weights();  // with placeholder values: final for expressions without products
}

void ObjectiveEvaluator::take_buffers(ObjectiveEvaluator&& old) {
  CUVIZ_CHECK(!bound_, "objective: take_buffers after bind");
  for (Batch& b : batches_)
    for (Batch& o : old.batches_)
      if (o.type == b.type && o.batch->layer == b.batch->layer) b.batch->take_buffers(*o.batch);
  values_ = std::move(old.values_);
  weights_ = std::move(old.weights_);
}

StepBuffers ObjectiveEvaluator::step_buffers() {
  return StepBuffers{device_, values_.data(), weights_.data(), &host_weights_};
}

// dL/d(slot) for L = -(1/N) sum_i objective_i(image i), uploaded to the device.
void ObjectiveEvaluator::update_weights() {
  std::vector<double> w(host_weights_.size(), 0.0);
  for (int i = 0; i < n_; ++i) Walk(*this, i, host_values_, &w).backprop(objective_of(i), -1.0 / n_);
  for (size_t k = 0; k < w.size(); ++k) host_weights_[k] = float(w[k]);
  copy(Tensor(host_weights_.data(), weights_.shape()), weights_);
  const StepBuffers step = step_buffers();
  for (Batch& b : batches_) b.batch->weights_changed(step);
}

void ObjectiveEvaluator::compute_values(const Tensor& image) {
  CUVIZ_CHECK(bound_, "objective: compute_values before bind");
  const StepBuffers step = step_buffers();
  for (Batch& b : batches_) b.batch->values(image, step);
}

void ObjectiveEvaluator::seed() {
  if (needs_values_) {
    copy(values_, Tensor(host_values_.data(), values_.shape()));
    update_weights();
  }
  const StepBuffers step = step_buffers();
  for (Batch& b : batches_) b.batch->seed(step);
}

void ObjectiveEvaluator::add_image_gradients(const Tensor& image, const Tensor& dimage) {
  const StepBuffers step = step_buffers();
  for (Batch& b : batches_) b.batch->add_image_gradient(image, dimage, step);
}

double ObjectiveEvaluator::part_value(const Objective& part, int image) const {
  CUVIZ_CHECK(image >= 0 && image < n_, "objective: image ", image, " of ", n_);
  return Walk(*this, image, host_values_, nullptr).value(part.node());
}

std::vector<double> ObjectiveEvaluator::read_objectives() {
  copy(values_, Tensor(host_values_.data(), values_.shape()));
  std::vector<double> out(static_cast<size_t>(n_));
  for (int i = 0; i < n_; ++i) out[size_t(i)] = Walk(*this, i, host_values_, nullptr).value(objective_of(i));
  return out;
}

}  // namespace cuviz
