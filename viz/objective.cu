// The CUDA kernels of item terms (viz/objective_items.h), one instantiation per item maths: one
// block per leaf task reduces its items (Maths::value, shared with the CPU loop) in a fixed tree
// order, and one block per task adds its seeds (Maths::seed) with atomicAdd, since two tasks of
// one image may touch the same activation. Those atomics make the sum's order, and so its last
// bits, depend on scheduling; in deterministic mode (core/determinism.h) one block per image adds
// the seeds of its tasks one task after the other, in the order of the CPU loop. Everything runs
// on the current stream; nothing waits for the host, so the render step can be captured as a
// CUDA graph.
#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "core/determinism.h"
#include "viz/objective_reduce.cuh"
#include "viz/objective_item_list.h"

namespace cuviz {

namespace {

constexpr int kThreads = kObjectiveThreads;

struct AtomicAdd {
  __device__ void operator()(float* p, float v) const { atomicAdd(p, v); }
};

template <class Maths>
__global__ void item_values_kernel(const LeafTask* tasks, const float* aux, const float* act, int64_t stride, int c,
                                   int h, int w, float* values) {
  const LeafTask t = tasks[blockIdx.x];
  const float* a = act + t.image * stride;
  const int64_t items = Maths::items(t, c, h, w);
  double s = 0;
  for (int64_t k = threadIdx.x; k < items; k += blockDim.x) s += Maths::value(t, a, aux, c, h, w, k);
  block_sum_to(s, values + t.slot);
}

template <class Maths>
__global__ void item_seeds_kernel(const LeafTask* tasks, const float* aux, const float* act, int64_t stride, int c,
                                  int h, int w, const float* weights, float* grad, int64_t gstride) {
  const LeafTask t = tasks[blockIdx.x];
  const float wt = weights[t.slot];
  if (wt == 0.f) return;
  const float* a = act + t.image * stride;
  float* g = grad + t.image * gstride;
  const int64_t items = Maths::items(t, c, h, w);
  const AtomicAdd add;
  for (int64_t k = threadIdx.x; k < items; k += blockDim.x) Maths::seed(t, a, aux, c, h, w, k, wt, g, add);
}

// Deterministic seeds: block `img` walks every task in order and runs those of image `img`. The
// items of one task touch distinct elements (each Maths::seed writes its own position or window
// element), so its threads add without atomics; the barrier after each task orders the tasks, so
// an element that several tasks touch receives their shares in task order, run after run. (The
// task's fields and weight are the same for the whole block, so every thread takes the same
// branches and reaches the same barriers.)
struct PlainAdd {
  __device__ void operator()(float* p, float v) const { *p += v; }
};

template <class Maths>
__global__ void item_seeds_ordered_kernel(const LeafTask* tasks, int n_tasks, const float* aux, const float* act,
                                          int64_t stride, int c, int h, int w, const float* weights, float* grad,
                                          int64_t gstride) {
  const int img = blockIdx.x;
  const float* a = act + img * stride;
  float* g = grad + img * gstride;
  const PlainAdd add;
  for (int i = 0; i < n_tasks; ++i) {
    const LeafTask t = tasks[i];
    if (t.image != img) continue;
    const float wt = weights[t.slot];
    if (wt == 0.f) continue;
    const int64_t items = Maths::items(t, c, h, w);
    for (int64_t k = threadIdx.x; k < items; k += blockDim.x) Maths::seed(t, a, aux, c, h, w, k, wt, g, add);
    __syncthreads();
  }
}

}  // namespace

template <class Maths>
void item_values_cuda(const LeafTask* tasks, int n_tasks, const float* aux, const Tensor& act, float* values) {
  item_values_kernel<Maths><<<n_tasks, kThreads, 0, current_stream()>>>(tasks, aux, act.data(), act.batch_stride(),
                                                                        act.c(), act.h(), act.w(), values);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

template <class Maths>
void item_seeds_cuda(const LeafTask* tasks, int n_tasks, const float* aux, const Tensor& act, const float* weights,
                     const Tensor& grad) {
  if (deterministic()) {
    item_seeds_ordered_kernel<Maths><<<act.n(), kThreads, 0, current_stream()>>>(
        tasks, n_tasks, aux, act.data(), act.batch_stride(), act.c(), act.h(), act.w(), weights, grad.data(),
        grad.batch_stride());
    CUVIZ_CUDA_LAUNCH_CHECK();
    return;
  }
  item_seeds_kernel<Maths><<<n_tasks, kThreads, 0, current_stream()>>>(tasks, aux, act.data(), act.batch_stride(),
                                                                       act.c(), act.h(), act.w(), weights,
                                                                       grad.data(), grad.batch_stride());
  CUVIZ_CUDA_LAUNCH_CHECK();
}

#define CUVIZ_INSTANTIATE(M)                                                                              \
  template void item_values_cuda<M>(const LeafTask*, int, const float*, const Tensor&, float*);           \
  template void item_seeds_cuda<M>(const LeafTask*, int, const float*, const Tensor&, const float*, const Tensor&);
CUVIZ_ITEM_MATHS(CUVIZ_INSTANTIATE)
#undef CUVIZ_INSTANTIATE

}  // namespace cuviz
