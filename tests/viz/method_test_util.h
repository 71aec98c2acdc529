// Helpers shared by the method layer's tests (image sources, step ops, Attributor, octaves).
#pragma once

#include <cstring>

#include "../nn/reference_net.h"
#include "core/tensor.h"

namespace cuviz::test {

// small_net with inputs in [-0.5, 0.5] (x1, minus 0.5, BGR): under Caffe's x255 its LRN would run
// deep in its curved regime, where central differences at float-resolvable steps fail.
inline Graph unit_net() {
  Graph g = small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  return g;
}

// Same shape and the same bytes (dense tensors on the CPU).
inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), size_t(a.numel()) * sizeof(float)) == 0;
}

// A dense CPU copy of a tensor on any device.
inline OwnedTensor host_copy(const Tensor& t) {
  OwnedTensor out(t.shape());
  copy(t, out);
  return out;
}

}  // namespace cuviz::test
