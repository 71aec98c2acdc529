// Limits on sizes read from files. Every dimension and element count that comes from a model,
// an image or a .npy header passes through here before anything is allocated, so that a hostile
// or corrupt file costs a bounded amount of memory and time and ends with one clear error:
//   - a dimension is a positive number that fits an int (Shape holds ints): a value of 2^32 or
//     more would otherwise wrap to a small one when cast;
//   - an element count is a product of such dimensions computed with an overflow check (signed
//     overflow is undefined behaviour) and capped at kMaxElements, 2^31 floats = 8 GiB, far
//     above the largest tensor of the networks cuviz reads (VGG's fc6 weights, 1.0e8 floats).
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace cuviz {

inline constexpr int64_t kMaxElements = int64_t(1) << 31;

// `v` as an int, or an Error "<what> has dimension <v> (must be 1 to 2147483647)"; `allow_zero`
// accepts 0 (an empty tensor).
inline int checked_dim(int64_t v, const std::string& what, bool allow_zero = false) {
  CUVIZ_CHECK(v <= INT_MAX && (v > 0 || (allow_zero && v == 0)), what, " has dimension ", v, " (must be ",
              allow_zero ? 0 : 1, " to ", INT_MAX, ")");
  return int(v);
}

// The product of `dims` (each >= 0), or an Error naming `what` when a dim is negative or the
// product exceeds kMaxElements (checked at each step, so it never overflows).
inline int64_t checked_numel(const std::vector<int64_t>& dims, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    CUVIZ_CHECK(d >= 0, what, " has a negative dimension ", d);
    int64_t next = 0;
    CUVIZ_CHECK(!__builtin_mul_overflow(n, d, &next) && next <= kMaxElements, what, " has more than ", kMaxElements,
                " elements (dims ", [&] {
                  std::string s;
                  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
                  return s;
                }(),
                ")");
    n = next;
  }
  return n;
}

}  // namespace cuviz
