// Lucid's redirected ReLU gradient (relu_backward_data_redirected), image by image: the plain
// gradient when any of it passes, else dy with the components > 0 at inactive units removed
// (dy is the gradient of a loss being minimised: dy > 0 there would push the input further down).
#include <gtest/gtest.h>

#include "kernels/relu.h"
#include "test_util.h"

namespace cuviz {
namespace {

TEST(ReluRedirected, PlainWhereAnythingPassesElseRedirectedPerImage) {
  OwnedTensor y(Shape{2, 1, 1, 4}), dy(y.shape()), dx(y.shape());
  const float yv[8] = {0, 2, 0, 0, 0, 0, 0, 0};
  const float dv[8] = {1, -3, -2, 4, 1, -3, -2, 4};
  for (int k = 0; k < 8; ++k) y.data()[k] = yv[k], dy.data()[k] = dv[k];
  relu_backward_data_redirected(y, dy, dx);
  const float want[8] = {0, -3, 0, 0,    // image 0: the unit at 1 is on and passes -3: plain ReLU gradient
                         0, -3, -2, 0};  // image 1: all off: only the components that raise the input
  for (int k = 0; k < 8; ++k) EXPECT_EQ(dx.data()[k], want[k]) << k;
  relu_backward_data_redirected(y, dy, dy);  // in place
  for (int k = 0; k < 8; ++k) EXPECT_EQ(dy.data()[k], want[k]) << k;
}

}  // namespace
}  // namespace cuviz
