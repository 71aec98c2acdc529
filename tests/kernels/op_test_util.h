// Helpers shared by the op tests (pool2d, LRN, concat, softmax, batch norm, dropout): channel-slice
// views with a guard band of sentinels around them, and an exception check on the message.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace cuviz::test {

// A {n, c, h, w} view that is channels [1, 1 + c) of a {n, c + 3, h, w} buffer, so that its images
// are strided; the channels around it hold a sentinel that no op writes.
struct SliceView {
  static constexpr float kSentinel = 12345.f;
  OwnedTensor storage;
  Tensor view;
  explicit SliceView(Shape s) : storage(Shape{s.n, s.c + 3, s.h, s.w}) {
    fill(storage, kSentinel);
    view = storage.channels(1, s.c);
  }
  // True when every element outside the view still holds the sentinel.
  bool guard_intact() const {
    for (int n = 0; n < storage.n(); ++n)
      for (int c : {0, storage.c() - 2, storage.c() - 1})
        for (int h = 0; h < storage.h(); ++h)
          for (int w = 0; w < storage.w(); ++w)
            if (storage.at(n, c, h, w) != kSentinel) return false;
    return true;
  }
};

// Runs f, expecting a cuviz::Error whose message contains `needle` (the op's name).
template <class F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected a cuviz::Error mentioning '" << needle << "', nothing was thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

}  // namespace cuviz::test
