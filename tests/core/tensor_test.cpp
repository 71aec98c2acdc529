// Tensor views, Buffer ownership and Arena carving.
#include <gtest/gtest.h>

#include "core/tensor.h"

namespace cuviz {

TEST(Tensor, ChannelSliceViewsShareMemoryWithStride) {
  OwnedTensor t(Shape{2, 5, 3, 4});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float(i);
  Tensor s = t.channels(1, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 2, 3, 4}));
  EXPECT_EQ(s.batch_stride(), 5 * 3 * 4);
  EXPECT_FALSE(s.contiguous());
  EXPECT_EQ(s.at(1, 0, 2, 3), t.at(1, 1, 2, 3));
  EXPECT_THROW(t.channels(4, 2), Error);
  EXPECT_THROW(s.reshaped(Shape{1, 48, 1, 1}), Error);
}

TEST(Tensor, ReshapeKeepsElementsAndRejectsWrongCounts) {
  OwnedTensor t(Shape{2, 3, 4, 5});
  Tensor r = t.reshaped(Shape{2, 60, 1, 1});
  EXPECT_EQ(r.data(), t.data());
  EXPECT_THROW(t.reshaped(Shape{2, 61, 1, 1}), Error);
}

TEST(Tensor, CopyAndFillHandleStridedViews) {
  OwnedTensor a(Shape{2, 4, 2, 2}), b(Shape{2, 2, 2, 2});
  fill(a, 0.f);
  fill(b, 3.f);
  copy(b, a.channels(2, 2));
  EXPECT_EQ(a.at(0, 1, 1, 1), 0.f);
  EXPECT_EQ(a.at(1, 2, 0, 0), 3.f);
  EXPECT_EQ(a.at(1, 3, 1, 1), 3.f);
  EXPECT_THROW(copy(a, b), Error);
}

TEST(Buffer, MoveTransfersOwnership) {
  Buffer a(1000, Device::cpu);
  void* p = a.data();
  Buffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % Arena::kAlign, 0u);
}

TEST(Arena, CarvesAlignedTensorsAndRefusesOverflow) {
  Arena arena(Arena::bytes_for(Shape{1, 3, 5, 5}) + Arena::bytes_for(Shape{1, 1, 1, 1}), Device::cpu);
  Tensor a = arena.alloc(Shape{1, 3, 5, 5});
  Tensor b = arena.alloc(Shape{1, 1, 1, 1});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % Arena::kAlign, 0u);
  EXPECT_GE(b.data(), a.data() + a.numel());
  EXPECT_THROW(arena.alloc(Shape{1, 1, 1, 1}), Error);
}

TEST(Device, CudaAvailabilityNeverThrows) { EXPECT_NO_THROW(cuda_available()); }

}  // namespace cuviz
