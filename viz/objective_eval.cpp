// The objective evaluator of the render loop: compiling expressions into leaf tasks and slots, the
// host-side expression algebra (values and slot weights by reverse-mode on the tree), and the CPU
// paths of the leaf reductions, their seeds and the diversity Gram terms (CUDA in objective.cu).
#include "viz/objective_eval.h"

#include <cstring>
#include <functional>

#include "kernels/gemm.h"
#include "core/error.h"

namespace cuviz {

namespace {

// Copies `bytes` of host memory (whole floats or ints) into b, which is reallocated only when it
// has another size (a rebind with the same layout reuses it).
void upload(Buffer& b, const void* data, size_t bytes, Device device) {
  if (b.bytes() != bytes || b.device() != device) b = Buffer(bytes, device);
  const Shape s{1, 1, 1, int(bytes / sizeof(float))};
  copy(Tensor(static_cast<float*>(const_cast<void*>(data)), s), Tensor(static_cast<float*>(b.data()), s, device));
}

// t, reallocated only when its shape or device differs.
void ensure(OwnedTensor& t, Shape shape, Device device) {
  if (!(t.shape() == shape) || t.device() != device || !t.data()) t = OwnedTensor(shape, device);
}

}  // namespace

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
  std::function<bool(const ObjectiveNode&)> has_mul = [&](const ObjectiveNode& x) {
    return x.kind == ObjectiveKind::mul || (x.a && has_mul(*x.a)) || (x.b && has_mul(*x.b));
  };
  for (const auto& o : objectives_) needs_values_ = needs_values_ || has_mul(o.node());
}

int ObjectiveEvaluator::group_for(const std::string& layer) {
  for (size_t g = 0; g < groups_.size(); ++g)
    if (groups_[g].layer == layer) return int(g);
  groups_.push_back(Group{});
  groups_.back().layer = layer;
  layers_.push_back(layer);
  return int(groups_.size()) - 1;
}

// image -1: the leaf belongs to the objective shared by all images.
void ObjectiveEvaluator::add_leaves(const ObjectiveNode& node, int image) {
  if (node.a) add_leaves(*node.a, image);
  if (node.b) add_leaves(*node.b, image);
  const int first = image < 0 ? 0 : image, last = image < 0 ? n_ : image + 1;
  auto new_slots = [&](int part) {
    const auto key0 = std::make_tuple(&node, first, part);
    if (slots_.count(key0)) return false;  // a node shared inside one expression
    for (int i = first; i < last; ++i) slots_[std::make_tuple(&node, i, part)] = n_slots_++;
    return true;
  };
  switch (node.kind) {
    case ObjectiveKind::channel:
    case ObjectiveKind::deepdream:
    case ObjectiveKind::direction:
    case ObjectiveKind::direction_cossim: {
      if (!new_slots(0)) return;
      Group& g = groups_[group_for(node.layer)];
      int vec = 0;
      float norm = 1.f;
      if (!node.vec.empty()) {
        vec = int(g.vecs.size());
        double s = 0;
        for (float v : node.vec) s += double(v) * v;
        CUVIZ_CHECK(s > 0, "objective ", node.label, ": the direction vector is zero");
        norm = float(std::sqrt(s));
        g.vecs.insert(g.vecs.end(), node.vec.begin(), node.vec.end());
      }
      for (int i = first; i < last; ++i) {
        LeafTask t;
        t.kind = node.kind == ObjectiveKind::channel     ? kLeafWindow
                 : node.kind == ObjectiveKind::deepdream ? kLeafDeepdream
                 : node.kind == ObjectiveKind::direction ? kLeafDirection
                                                         : kLeafCossim;
        t.image = i;
        t.channel = node.channel;
        t.slot = slot_of(&node, i, 0);
        t.vec = vec;
        t.vec_norm = norm;
        g.tasks.push_back(t);  // windows are set in bind, once the shape is known
      }
      return;
    }
    case ObjectiveKind::channel_interpolate: {
      if (!new_slots(0)) return;
      new_slots(1);
      for (int part = 0; part < 2; ++part) {
        Group& g = groups_[group_for(part ? node.layer2 : node.layer)];
        for (int i = first; i < last; ++i) {
          LeafTask t;
          t.image = i;
          t.channel = part ? node.channel2 : node.channel;
          t.slot = slot_of(&node, i, part);
          g.tasks.push_back(t);
        }
      }
      return;
    }
    case ObjectiveKind::diversity: {
      if (!new_slots(0)) return;
      Group& g = groups_[group_for(node.layer)];
      for (int i = first; i < last; ++i) {
        g.diversity.push_back(i);
        g.diversity.push_back(slot_of(&node, i, 0));
      }
      return;
    }
    case ObjectiveKind::regularizer:
      if (!new_slots(0)) return;
      for (int i = first; i < last; ++i) regs_.push_back(RegTask{node.reg, node.reg_constant, i, slot_of(&node, i, 0)});
      return;
    default: return;
  }
}

int ObjectiveEvaluator::slot_of(const ObjectiveNode* node, int image, int part) const {
  const auto it = slots_.find(std::make_tuple(node, image, part));
  CUVIZ_CHECK(it != slots_.end(), "objective: internal error: no slot for ", node->label, " on image ", image);
  return it->second;
}

void ObjectiveEvaluator::bind(const Network& net, Plan& plan, Device device) {
  static_assert(sizeof(LeafTask) % sizeof(float) == 0, "LeafTask travels as whole floats");
  CUVIZ_CHECK(!bound_, "objective: evaluator bound twice");
  device_ = device;
  for (Group& g : groups_) {
    g.act = net.activation(plan, g.layer);
    g.grad = net.activation_grad(plan, g.layer);
    const Shape s = g.act.shape();
    CUVIZ_CHECK(s.n == n_, "objective: blob ", g.layer, " has batch ", s.n, ", the render ", n_);
    for (LeafTask& t : g.tasks) {
      CUVIZ_CHECK(t.channel >= 0 && t.channel < s.c, "objective: channel ", t.channel, " out of range for ", g.layer,
                  ": it has ", s.c, " channels (0..", s.c - 1, ")");
      if (t.kind == kLeafDirection || t.kind == kLeafCossim) {
        t.channel = 0;
        CUVIZ_CHECK(int(g.vecs.size()) - t.vec >= s.c, "objective: direction on ", g.layer, " needs ", s.c,
                    " values (one per channel)");
      }
      t.x0 = 0, t.x1 = s.w, t.y0 = 0, t.y1 = s.h;
    }
  }
  // Windows of neurons come from their nodes; walk the slot table to find them.
  for (const auto& [key, slot] : slots_) {
    const ObjectiveNode* node = std::get<0>(key);
    if (node->kind != ObjectiveKind::channel || !node->neuron) continue;
    for (Group& g : groups_) {
      if (g.layer != node->layer) continue;
      const Shape s = g.act.shape();
      const int x = node->x < 0 ? s.w / 2 : node->x, y = node->y < 0 ? s.h / 2 : node->y;
      CUVIZ_CHECK(x >= 0 && x < s.w && y >= 0 && y < s.h, "objective ", node->label, ": position (x ", x, ", y ", y,
                  ") outside ", g.layer, " of ", s.w, " x ", s.h, " (x 0..", s.w - 1, ", y 0..", s.h - 1, ")");
      for (LeafTask& t : g.tasks)
        if (t.slot == slot) t.x0 = x, t.x1 = x + 1, t.y0 = y, t.y1 = y + 1;
    }
  }
  for (Group& g : groups_) {
    if (device == Device::cuda) {
      if (!g.tasks.empty()) upload(g.tasks_dev, g.tasks.data(), g.tasks.size() * sizeof(LeafTask), device);
      if (!g.vecs.empty()) upload(g.vecs_dev, g.vecs.data(), g.vecs.size() * sizeof(float), device);
      if (!g.diversity.empty()) upload(g.diversity_dev, g.diversity.data(), g.diversity.size() * sizeof(int), device);
    }
    if (!g.diversity.empty()) {
      const int c = g.act.c();
      ensure(g.gram, Shape{n_, c, c, 1}, device);
      ensure(g.dgram, Shape{n_, c, c, 1}, device);
      ensure(g.inv_norm, Shape{n_, 1, 1, 1}, device);
      ensure(g.upstream, Shape{n_, 1, 1, 1}, device);
    }
  }
  ensure(values_, Shape{1, 1, 1, std::max(n_slots_, 1)}, device);
  ensure(weights_, Shape{1, 1, 1, std::max(n_slots_, 1)}, device);
  fill(values_, 0.f);
  host_values_.assign(size_t(std::max(n_slots_, 1)), 0.f);
  host_weights_.assign(size_t(std::max(n_slots_, 1)), 0.f);
  bound_ = true;
  update_weights();  // with placeholder values: final for expressions without products
}

void ObjectiveEvaluator::take_buffers(ObjectiveEvaluator&& old) {
  CUVIZ_CHECK(!bound_, "objective: take_buffers after bind");
  for (Group& g : groups_)
    for (Group& o : old.groups_) {
      if (o.layer != g.layer) continue;
      g.tasks_dev = std::move(o.tasks_dev);
      g.vecs_dev = std::move(o.vecs_dev);
      g.diversity_dev = std::move(o.diversity_dev);
      g.gram = std::move(o.gram);
      g.dgram = std::move(o.dgram);
      g.inv_norm = std::move(o.inv_norm);
      g.upstream = std::move(o.upstream);
    }
  values_ = std::move(old.values_);
  weights_ = std::move(old.weights_);
}

double ObjectiveEvaluator::value(const ObjectiveNode& n, int image, const std::vector<float>& v) const {
  switch (n.kind) {
    case ObjectiveKind::constant: return n.scalar;
    case ObjectiveKind::add: return value(*n.a, image, v) + value(*n.b, image, v);
    case ObjectiveKind::scale: return n.scalar * value(*n.a, image, v);
    case ObjectiveKind::mul: return value(*n.a, image, v) * value(*n.b, image, v);
    case ObjectiveKind::channel_interpolate: {
      const double t = n_ > 1 ? double(image) / (n_ - 1) : 0.0;
      return (1 - t) * v[size_t(slot_of(&n, image, 0))] + t * v[size_t(slot_of(&n, image, 1))];
    }
    default: return v[size_t(slot_of(&n, image, 0))];
  }
}

void ObjectiveEvaluator::backprop(const ObjectiveNode& n, int image, double u, const std::vector<float>& v,
                                  std::vector<double>& w) const {
  switch (n.kind) {
    case ObjectiveKind::constant: return;
    case ObjectiveKind::add:
      backprop(*n.a, image, u, v, w);
      backprop(*n.b, image, u, v, w);
      return;
    case ObjectiveKind::scale: backprop(*n.a, image, u * n.scalar, v, w); return;
    case ObjectiveKind::mul:
      backprop(*n.a, image, u * value(*n.b, image, v), v, w);
      backprop(*n.b, image, u * value(*n.a, image, v), v, w);
      return;
    case ObjectiveKind::channel_interpolate: {
      const double t = n_ > 1 ? double(image) / (n_ - 1) : 0.0;
      w[size_t(slot_of(&n, image, 0))] += (1 - t) * u;
      w[size_t(slot_of(&n, image, 1))] += t * u;
      return;
    }
    default: w[size_t(slot_of(&n, image, 0))] += u;
  }
}

// dL/d(slot) for L = -(1/N) sum_i objective_i(image i), uploaded to the device.
void ObjectiveEvaluator::update_weights() {
  std::vector<double> w(host_weights_.size(), 0.0);
  for (int i = 0; i < n_; ++i)
    backprop(objectives_.size() == 1 ? objectives_[0].node() : objectives_[size_t(i)].node(), i, -1.0 / n_,
             host_values_, w);
  for (size_t k = 0; k < w.size(); ++k) host_weights_[k] = float(w[k]);
  copy(Tensor(host_weights_.data(), weights_.shape()), weights_);
  for (Group& g : groups_) {
    if (g.diversity.empty()) continue;
    std::vector<float> up(size_t(n_), 0.f);
    for (size_t k = 0; k < g.diversity.size(); k += 2) up[size_t(g.diversity[k])] += host_weights_[size_t(g.diversity[k + 1])];
    copy(Tensor(up.data(), Shape{n_, 1, 1, 1}), g.upstream);
  }
}

namespace {

// CPU diversity: Gram matrices, their norms and d_i (see the header for the formulas).
void diversity_values_cpu(const Tensor& act, const Tensor& gram, const Tensor& inv_norm, const std::vector<int>& pairs,
                          float* values) {
  const int n = act.n(), c = act.c(), hw = act.h() * act.w();
  const int64_t cc = int64_t(c) * c;
  std::vector<double> d(size_t(n), 0.0);
  for (int k = 0; k < n; ++k) {
    float* g = gram.data() + k * cc;
    sgemm(false, true, c, c, hw, 1.f, act.image(k), hw, act.image(k), hw, 0.f, g, c);
    double s = 0;
    for (int64_t e = 0; e < cc; ++e) s += double(g[e]) * g[e];
    const float inv = float(1.0 / std::sqrt(std::max(s, 1e-10)));
    inv_norm.data()[k] = inv;
    for (int64_t e = 0; e < cc; ++e) g[e] *= inv;
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      const float* gi = gram.data() + i * cc;
      const float* gj = gram.data() + j * cc;
      double s = 0;
      for (int64_t e = 0; e < cc; ++e) s += double(gi[e]) * gj[e];
      d[size_t(i)] += s;
    }
  for (size_t k = 0; k < pairs.size(); k += 2) values[pairs[k + 1]] = float(d[size_t(pairs[k])]);
}

void diversity_seeds_cpu(const Tensor& act, const Tensor& gram, const Tensor& inv_norm, const Tensor& upstream,
                         const Tensor& dgram, const Tensor& grad) {
  const int n = act.n(), c = act.c(), hw = act.h() * act.w();
  const int64_t cc = int64_t(c) * c;
  const float* u = upstream.data();
  for (int k = 0; k < n; ++k) {
    float* dg = dgram.data() + k * cc;
    const float* gk = gram.data() + k * cc;
    double proj = 0;
    for (int64_t e = 0; e < cc; ++e) {
      double s = -2.0 * u[k] * gk[e];
      for (int j = 0; j < n; ++j) s += double(u[k] + u[j]) * gram.data()[j * cc + e];
      dg[e] = float(s);
      proj += double(gk[e]) * s;
    }
    const float inv = inv_norm.data()[k];
    for (int64_t e = 0; e < cc; ++e) dg[e] = (dg[e] - float(proj) * gk[e]) * inv;
    sgemm(false, false, c, hw, c, 2.f, dg, c, act.image(k), hw, 1.f, grad.image(k), hw);
  }
}

}  // namespace

void ObjectiveEvaluator::compute_values(const Tensor& image) {
  CUVIZ_CHECK(bound_, "objective: compute_values before bind");
  float* values = values_.data();
  for (Group& g : groups_) {
    const Shape s = g.act.shape();
    if (device_ == Device::cuda) {
      if (!g.tasks.empty())
        leaf_values_cuda(static_cast<const LeafTask*>(g.tasks_dev.data()), int(g.tasks.size()),
                         static_cast<const float*>(g.vecs_dev.data()), g.act, values);
      if (!g.diversity.empty())
        diversity_values_cuda(g.act, g.gram.data(), g.inv_norm.data(), static_cast<const int*>(g.diversity_dev.data()),
                              int(g.diversity.size() / 2), values);
      continue;
    }
    const int nt = int(g.tasks.size());
#pragma omp parallel for schedule(dynamic) if (nt > 1)
    for (int ti = 0; ti < nt; ++ti) {
      const LeafTask& t = g.tasks[size_t(ti)];
      const float* a = g.act.image(t.image);
      const int64_t items = leaf_items(t, s.c, s.h, s.w);
      double acc = 0;
      for (int64_t k = 0; k < items; ++k) acc += leaf_item_value(t, a, g.vecs.data(), s.c, s.h, s.w, k);
      values[t.slot] = float(acc);
    }
    if (!g.diversity.empty()) diversity_values_cpu(g.act, g.gram, g.inv_norm, g.diversity, values);
  }
  for (const RegTask& r : regs_) {
    const Tensor v(values + r.slot, Shape{1, 1, 1, 1}, device_);
    regularizer_forward_backward(r.kind, r.constant, image.batch(r.image, 1), v, 0.f, Tensor());
  }
}

void ObjectiveEvaluator::seed() {
  if (needs_values_) {
    copy(values_, Tensor(host_values_.data(), values_.shape()));
    update_weights();
  }
  const float* weights = weights_.data();
  for (Group& g : groups_) {
    const Shape s = g.act.shape();
    if (device_ == Device::cuda) {
      if (!g.tasks.empty())
        leaf_seeds_cuda(static_cast<const LeafTask*>(g.tasks_dev.data()), int(g.tasks.size()),
                        static_cast<const float*>(g.vecs_dev.data()), g.act, weights, g.grad);
      if (!g.diversity.empty())
        diversity_seeds_cuda(g.act, g.gram.data(), g.inv_norm.data(), g.upstream.data(), g.dgram.data(), g.grad);
      continue;
    }
    // Tasks of different images touch different memory; those of one image run in order.
    const auto add = [](float* p, float v) { *p += v; };
#pragma omp parallel for schedule(static) if (n_ > 1)
    for (int img = 0; img < n_; ++img)
      for (const LeafTask& t : g.tasks) {
        if (t.image != img) continue;
        const float w = weights[t.slot];
        if (w == 0.f) continue;
        const int64_t items = leaf_items(t, s.c, s.h, s.w);
        for (int64_t k = 0; k < items; ++k)
          leaf_item_seed(t, g.act.image(img), g.vecs.data(), s.c, s.h, s.w, k, w, g.grad.image(img), add);
      }
    if (!g.diversity.empty()) diversity_seeds_cpu(g.act, g.gram, g.inv_norm, g.upstream, g.dgram, g.grad);
  }
}

void ObjectiveEvaluator::add_image_gradients(const Tensor& image, const Tensor& dimage) {
  // Runs of consecutive images with consecutive slots and one weight go in one call.
  for (size_t k = 0; k < regs_.size();) {
    const RegTask& r = regs_[k];
    const float w = host_weights_[size_t(r.slot)];
    size_t e = k + 1;
    while (e < regs_.size() && regs_[e].kind == r.kind && regs_[e].constant == r.constant &&
           regs_[e].image == r.image + int(e - k) && regs_[e].slot == r.slot + int(e - k) &&
           host_weights_[size_t(regs_[e].slot)] == w)
      ++e;
    const int count = int(e - k);
    if (w != 0.f) {
      const Tensor v(values_.data() + r.slot, Shape{count, 1, 1, 1}, device_);
      regularizer_forward_backward(r.kind, r.constant, image.batch(r.image, count), v, w,
                                   dimage.batch(r.image, count));
    }
    k = e;
  }
}

std::vector<double> ObjectiveEvaluator::read_objectives() {
  copy(values_, Tensor(host_values_.data(), values_.shape()));
  std::vector<double> out(static_cast<size_t>(n_));
  for (int i = 0; i < n_; ++i)
    out[size_t(i)] = value(objectives_.size() == 1 ? objectives_[0].node() : objectives_[size_t(i)].node(), i,
                           host_values_);
  return out;
}

}  // namespace cuviz
