// GPU versions of the backward stash (kernels/relu.h mask, kernels/pool2d.h winners): bitwise the
// CPU results, for a batch-strided activation (a concat slice) where the network uses one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "core/cuda_runtime.h"

namespace cuviz {
namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int i = 0; i < a.n(); ++i)
    if (std::memcmp(a.image(i), b.image(i), size_t(a.shape().image_size()) * sizeof(float)) != 0) return false;
  return true;
}

// A device array of `n` T, its bytes read back into a host vector.
template <class T>
std::vector<T> to_host_vector(const Buffer& b, size_t n) {
  std::vector<T> h(n);
  cuda_rt::memcpy(h.data(), false, b.data(), true, n * sizeof(T));
  return h;
}

void check_relu(Shape s) {
  OwnedTensor x = test::random_tensor(s, 31);
  for (int64_t k = 0; k < s.image_size(); ++k) x.image(1)[k] = -std::abs(x.image(1)[k]);  // image 1 all off
  OwnedTensor y(s), dy = test::random_tensor(s, 32);
  relu_forward(x, y);
  std::vector<uint32_t> cpu_words(size_t(relu_mask_shape(s).numel()));
  const MaskTensor cpu_mask(cpu_words.data(), relu_mask_shape(s));
  relu_mask_forward(y, cpu_mask);

  // y on the device as a channel slice of a wider tensor (batch-strided, like a concat branch).
  OwnedTensor wide(Shape{s.n, s.c + 2, s.h, s.w}, Device::cuda);
  const Tensor y_dev = wide.channels(1, s.c);
  copy(y, y_dev);
  Buffer mask_buf(cpu_words.size() * sizeof(uint32_t), Device::cuda);
  const MaskTensor mask(static_cast<uint32_t*>(mask_buf.data()), relu_mask_shape(s), Device::cuda);
  cuda_rt::fill(static_cast<float*>(mask_buf.data()), int64_t(cpu_words.size()), -1.f);  // garbage bits
  relu_mask_forward(y_dev, mask);
  EXPECT_EQ(to_host_vector<uint32_t>(mask_buf, cpu_words.size()), cpu_words);

  const OwnedTensor dy_dev = test::to_device(dy);
  for (bool redirected : {false, true}) {
    OwnedTensor want(s);
    relu_backward_data_masked(cpu_mask, dy, want, redirected);
    test::GuardedOutput dx(s, 2);
    relu_backward_data_masked(mask, dy_dev, dx.view(), redirected);
    EXPECT_TRUE(dx.guards_intact());
    EXPECT_TRUE(bitwise_equal(test::to_host(dx.view()), want)) << "redirected " << redirected;
    OwnedTensor in_place = test::to_device(dy);
    relu_backward_data_masked(mask, in_place, in_place, redirected);
    EXPECT_TRUE(bitwise_equal(test::to_host(in_place), want)) << "in place, redirected " << redirected;
  }
  // Guided backpropagation (a backward rule), from y and from the mask.
  OwnedTensor want(s);
  relu_backward_data_guided(y, dy, want);
  test::GuardedOutput from_y(s, 3), from_mask(s, 4);
  relu_backward_data_guided(y_dev, dy_dev, from_y.view());
  relu_backward_data_guided_masked(mask, dy_dev, from_mask.view());
  EXPECT_TRUE(from_y.guards_intact() && from_mask.guards_intact());
  EXPECT_TRUE(bitwise_equal(test::to_host(from_y.view()), want)) << "guided";
  EXPECT_TRUE(bitwise_equal(test::to_host(from_mask.view()), want)) << "guided, masked";
  OwnedTensor in_place = test::to_device(dy);
  relu_backward_data_guided_masked(mask, in_place, in_place);
  EXPECT_TRUE(bitwise_equal(test::to_host(in_place), want)) << "guided, masked, in place";
}

TEST(StashCuda, ReluMaskAndMaskedBackwardsMatchCpu) {
  CUVIZ_REQUIRE_GPU();
  check_relu(Shape{3, 5, 7, 3});  // 105 elements per image: a partial last word
  // 33263 elements per image (not a multiple of 32, more than one block's 512 threads can cover
  // in one pass): the plain backward's grid-stride blocks span image boundaries and mask words
  // of two images, the redirected one loops within its block.
  check_relu(Shape{2, 37, 29, 31});
}

void check_pool(const Pool2dParams& p, Shape xs) {
  OwnedTensor x = test::random_tensor(xs, 33);
  for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] = std::round(x.data()[k] * 4.f) / 4.f;  // ties
  for (int64_t k = 0; k < int64_t(xs.h) * xs.w; ++k) x.data()[k] = -std::numeric_limits<float>::infinity();
  const Shape ys = pool2d_output_shape(p, xs);
  const OwnedTensor dy = test::random_tensor(ys, 34);
  OwnedTensor y_want(ys), dx_want(xs);
  std::vector<int32_t> cpu_idx(size_t(ys.numel()));
  pool2d_forward_winners(p, x, y_want, WinnerTensor(cpu_idx.data(), ys));
  pool2d_backward_data(p, x, y_want, dy, dx_want);

  const OwnedTensor x_dev = test::to_device(x), dy_dev = test::to_device(dy);
  Buffer idx_buf(cpu_idx.size() * sizeof(int32_t), Device::cuda);
  const WinnerTensor winners(static_cast<int32_t*>(idx_buf.data()), ys, Device::cuda);
  // y holds -inf (plane 0), which a guarded output would report as unwritten: a plain tensor,
  // filled with NaN first so that an unwritten element fails the bitwise comparison.
  OwnedTensor y(ys, Device::cuda);
  fill(y, std::numeric_limits<float>::quiet_NaN());
  pool2d_forward_winners(p, x_dev, y, winners);
  OwnedTensor y_plain(ys, Device::cuda);
  pool2d_forward(p, x_dev, y_plain);
  const OwnedTensor y_host = test::to_host(y);
  EXPECT_TRUE(bitwise_equal(y_host, test::to_host(y_plain))) << "the GPU's plain forward";
  // The CPU's separable max may pick the other zero of a +0/-0 tie: equal as values.
  for (int64_t k = 0; k < y_host.numel(); ++k) ASSERT_EQ(y_host.data()[k], y_want.data()[k]) << k;
  EXPECT_EQ(to_host_vector<int32_t>(idx_buf, cpu_idx.size()), cpu_idx);
  test::GuardedOutput dx(xs, 1);
  pool2d_backward_data_winners(p, winners, dy_dev, dx.view());
  EXPECT_TRUE(dx.guards_intact());
  EXPECT_TRUE(bitwise_equal(test::to_host(dx.view()), dx_want));
}

TEST(StashCuda, PoolWinnersMatchCpuAndTheRecomputingBackward) {
  CUVIZ_REQUIRE_GPU();
  check_pool(Pool2dParams::make(PoolMode::max, 3, 2, 0, true), Shape{2, 5, 57, 57});
  check_pool(Pool2dParams::make(PoolMode::max, 3, 1, 1, false), Shape{3, 4, 14, 13});
  Pool2dParams d = Pool2dParams::make(PoolMode::max, 3, 2, 1, false);
  d.dilation_h = d.dilation_w = 2;
  check_pool(d, Shape{2, 3, 17, 16});
}

}  // namespace
}  // namespace cuviz
