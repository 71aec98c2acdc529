// Leaf batches of ITEM terms: the value of a leaf task is a sum over items (window positions,
// elements, spatial positions) of shares that depend on one image's activations only, and its
// gradient is the sum of the shares' gradients. A term writes that maths once as a struct
//   struct Maths {
//     static constexpr const char* what = "...";               // for errors
//     // host, at bind: check the task against the blob {C, H, W}, fill its window
//     static void bind(LeafTask& t, const Shape& s, const std::vector<float>& aux,
//                      const std::string& layer, const std::string& label);
//     CUVIZ_HD static int64_t items(const LeafTask& t, int c, int h, int w);
//     CUVIZ_HD static float value(const LeafTask& t, const float* a, const float* aux, int c, int h, int w, int64_t k);
//     template <class Add> CUVIZ_HD static void seed(const LeafTask& t, const float* a, const float* aux,
//                                                    int c, int h, int w, int64_t k, float weight, float* g, Add add);
//   };
// (`a`, `g`: the image's dense {C, H, W} blocks; `aux`: the batch's table of extra floats, a
// direction vector or a target, at t.aux) and gets ItemBatch<Maths>: the CPU loops below and the
// CUDA kernels of viz/objective.cu, one block per task, reducing in a fixed tree order.
// The maths is a static function of the type, so the loops inline it: no call per item.
// A new item term lists its Maths in CUVIZ_ITEM_MATHS (viz/objective_item_list.h), which
// instantiates the CUDA kernels (viz/objective.cu) or their stand-ins (objective_disabled.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/host_device.h"
#include "viz/objective_term.h"

namespace cuviz {

// One leaf of one image's objective on one blob.
struct LeafTask {
  int image = 0;
  int channel = 0;
  int x0 = 0, x1 = 0, y0 = 0, y1 = 0;  // window [y0, y1) x [x0, x1), set at bind
  int slot = 0;                        // value / weight index
  int aux = 0;                         // first element of its extra floats in the batch's table
  float aux_norm = 1.f;                // a norm of them (direction_cossim: |v|; l2_to: ||target||^2)
};

// CUDA paths of ItemBatch<Maths> (templates instantiated per Maths in viz/objective.cu).
template <class Maths>
void item_values_cuda(const LeafTask* tasks, int n_tasks, const float* aux, const Tensor& act, float* values);
template <class Maths>
void item_seeds_cuda(const LeafTask* tasks, int n_tasks, const float* aux, const Tensor& act, const float* weights,
                     const Tensor& grad);

template <class Maths>
class ItemBatch final : public LeafBatch {
 public:
  // Adds a task; `label` (the node's printed form) names it in bind's errors.
  void add(LeafTask t, const std::string& label) {
    tasks_.push_back(t);
    labels_.push_back(label);
  }
  // Appends extra floats and returns their offset (shared by the tasks of one node).
  int add_aux(const float* v, size_t n) {
    const int at = int(aux_.size());
    aux_.insert(aux_.end(), v, v + n);
    return at;
  }

  void bind(const Tensor& act, const Tensor& grad, int, Device device) override {
    static_assert(sizeof(LeafTask) % sizeof(float) == 0, "LeafTask travels as whole floats");
    act_ = act;
    grad_ = grad;
    device_ = device;
    for (size_t k = 0; k < tasks_.size(); ++k) Maths::bind(tasks_[k], act.shape(), aux_, layer, labels_[k]);
    if (device == Device::cuda) {
      upload_to(tasks_dev_, tasks_.data(), tasks_.size() * sizeof(LeafTask), device);
      if (!aux_.empty()) upload_to(aux_dev_, aux_.data(), aux_.size() * sizeof(float), device);
    }
  }
  void take_buffers(LeafBatch& old) override {
    auto& o = static_cast<ItemBatch&>(old);
    tasks_dev_ = std::move(o.tasks_dev_);
    aux_dev_ = std::move(o.aux_dev_);
  }

  void values(const Tensor&, const StepBuffers& step) override {
    const Shape s = act_.shape();
    if (device_ == Device::cuda) {
      item_values_cuda<Maths>(tasks_dev(), int(tasks_.size()), aux_dev(), act_, step.values);
      return;
    }
    const int nt = int(tasks_.size());
    float* values = step.values;
#pragma omp parallel for schedule(dynamic) if (nt > 1)
    for (int ti = 0; ti < nt; ++ti) {
      const LeafTask& t = tasks_[size_t(ti)];
      const float* a = act_.image(t.image);
      const int64_t items = Maths::items(t, s.c, s.h, s.w);
      double acc = 0;
      for (int64_t k = 0; k < items; ++k) acc += Maths::value(t, a, aux_.data(), s.c, s.h, s.w, k);
      values[t.slot] = float(acc);
    }
  }

  void seed(const StepBuffers& step) override {
    const Shape s = act_.shape();
    if (device_ == Device::cuda) {
      item_seeds_cuda<Maths>(tasks_dev(), int(tasks_.size()), aux_dev(), act_, step.weights, grad_);
      return;
    }
    // Tasks of different images touch different memory; those of one image run in order.
    const auto add = [](float* p, float v) { *p += v; };
    const float* weights = step.weights;
#pragma omp parallel for schedule(static) if (s.n > 1)
    for (int img = 0; img < s.n; ++img)
      for (const LeafTask& t : tasks_) {
        if (t.image != img) continue;
        const float w = weights[t.slot];
        if (w == 0.f) continue;
        const int64_t items = Maths::items(t, s.c, s.h, s.w);
        for (int64_t k = 0; k < items; ++k)
          Maths::seed(t, act_.image(img), aux_.data(), s.c, s.h, s.w, k, w, grad_.image(img), add);
      }
  }

 private:
  const LeafTask* tasks_dev() const { return static_cast<const LeafTask*>(tasks_dev_.data()); }
  const float* aux_dev() const { return static_cast<const float*>(aux_dev_.data()); }

  std::vector<LeafTask> tasks_;
  std::vector<std::string> labels_;  // the term of each task, for bind's errors
  std::vector<float> aux_;
  Tensor act_, grad_;
  Device device_ = Device::cpu;
  Buffer tasks_dev_, aux_dev_;
};

// The channel check every item term with a channel shares (message kept from the original).
inline void check_channel(const LeafTask& t, const Shape& s, const std::string& layer) {
  CUVIZ_CHECK(t.channel >= 0 && t.channel < s.c, "objective: channel ", t.channel, " out of range for ", layer,
              ": it has ", s.c, " channels (0..", s.c - 1, ")");
}

}  // namespace cuviz
