// Argument checks shared by every op: one clear message naming the op, the argument and shapes.
#pragma once

#include <initializer_list>

#include "core/tensor.h"

namespace cuviz {

// Throws unless `t` has exactly shape `want`.
template <class T>
void check_shape(const char* op, const char* what, const BasicTensor<T>& t, Shape want) {
  CUVIZ_CHECK(t.shape() == want, op, ": ", what, " has shape ", t.shape().str(), ", expected ", want.str());
}
// Throws unless `t` is defined and has no zero-sized dimension.
template <class T>
void check_nonempty(const char* op, const char* what, const BasicTensor<T>& t) {
  CUVIZ_CHECK(t.defined() || t.numel() == 0, op, ": ", what, " has no data");
  const Shape s = t.shape();
  CUVIZ_CHECK(s.n > 0 && s.c > 0 && s.h > 0 && s.w > 0, op, ": ", what, " has a zero-sized or negative dimension ",
              s.str());
}
// Throws unless all tensors are on one device; returns that device.
template <class T>
Device check_same_device(const char* op, std::initializer_list<const BasicTensor<T>*> ts) {
  Device d = (*ts.begin())->device();
  for (auto* t : ts)
    if (t->defined()) CUVIZ_CHECK(t->device() == d, op, ": tensors on different devices (", device_name(d), " and ",
                                  device_name(t->device()), ")");
  return d;
}

}  // namespace cuviz
