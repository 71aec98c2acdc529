// Preprocessing: the centre crop's offsets, Pillow's bilinear resize on hand-computed cases,
// channel order / scale / mean / std, and the whole pipeline against the reference inputs in
// shared/weights/reference (made with Pillow: crop, resize(BILINEAR), BGR, minus the mean).
#include "loaders/preprocess.h"

#include "io/npy.h"
#include "test_util.h"

namespace cuviz {
namespace {

Image ramp(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.pixels.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.at(x, y, c) = uint8_t(10 * y + x + 100 * c);
  return img;
}

TEST(Preprocess, CenterSquareCropTakesTheMiddle) {
  // 7 wide, 4 high: side 4, first column floor(3 / 2) = 1.
  const Image c = center_square_crop(ramp(7, 4));
  ASSERT_EQ(c.width, 4);
  ASSERT_EQ(c.height, 4);
  EXPECT_EQ(c.at(0, 0, 0), 1);
  EXPECT_EQ(c.at(3, 3, 2), 234);
  // 3 wide, 6 high: first row floor(3 / 2) = 1.
  const Image t = center_square_crop(ramp(3, 6));
  ASSERT_EQ(t.width, 3);
  EXPECT_EQ(t.at(0, 0, 0), 10);
}

TEST(Preprocess, ResizeSameSizeIsIdentityAndConstantStaysConstant) {
  const Image r = ramp(9, 5);
  EXPECT_EQ(resize_bilinear(r, 9, 5).pixels, r.pixels);
  Image flat = ramp(31, 17);
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t(77));
  for (auto [w, h] : {std::pair{7, 3}, std::pair{64, 40}, std::pair{13, 50}}) {
    const Image s = resize_bilinear(flat, w, h);
    ASSERT_EQ(s.width, w);
    ASSERT_EQ(s.height, h);
    for (uint8_t b : s.pixels) ASSERT_EQ(b, 77) << w << "x" << h;  // weights sum to 1 in fixed point
  }
}

TEST(Preprocess, ResizeMatchesHandComputedPillowValues) {
  // Upscaling [0, 255] from 2 to 4 pixels: output centres 0.25, 0.75, 1.25, 1.75 in input
  // coordinates; support 1, triangle weights around the input centres 0.5 and 1.5:
  // out0 reads only pixel 0 -> 0; out1 = 0.75*0 + 0.25*255 = 63.75 -> 64;
  // out2 = 0.25*0 + 0.75*255 = 191.25 -> 191; out3 reads only pixel 1 -> 255.
  Image two;
  two.width = 2;
  two.height = 1;
  two.pixels = {0, 0, 0, 255, 255, 255};
  const Image up = resize_bilinear(two, 4, 1);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(up.at(0, 0, c), 0);
    EXPECT_EQ(up.at(1, 0, c), 64);
    EXPECT_EQ(up.at(2, 0, c), 191);
    EXPECT_EQ(up.at(3, 0, c), 255);
  }
  // Halving [0, 60, 120, 180]: scale 2, support 2. Output 0 (centre 1) reads inputs 0..2 at
  // distances 0.5, 0.5, 1.5 from their centres: triangle weights (0.75, 0.75, 0.25) / 1.75 ->
  // (45 + 30) / 1.75 = 42.86 -> 43. Output 1 (centre 3) reads inputs 1..3 with weights
  // (0.25, 0.75, 0.75) / 1.75 -> (15 + 90 + 135) / 1.75 = 137.14 -> 137. Plain two-tap
  // bilinear (no antialiasing) would give 30 and 150.
  Image four;
  four.width = 4;
  four.height = 1;
  four.pixels = {0, 0, 0, 60, 60, 60, 120, 120, 120, 180, 180, 180};
  const Image down = resize_bilinear(four, 2, 1);
  EXPECT_EQ(down.at(0, 0, 0), 43);
  EXPECT_EQ(down.at(1, 0, 0), 137);
}

TEST(Preprocess, NormalizeAppliesChannelOrderScaleMeanStd) {
  Image px;
  px.width = px.height = 1;
  px.pixels = {10, 20, 30};  // R, G, B
  ModelMeta caffe;  // BGR, 0..255, mean (104, 117, 123)
  OwnedTensor t(Shape{1, 3, 1, 1});
  normalize_image(px, caffe, t);
  EXPECT_EQ(t.at(0, 0, 0, 0), 30.f - 104.f);
  EXPECT_EQ(t.at(0, 1, 0, 0), 20.f - 117.f);
  EXPECT_EQ(t.at(0, 2, 0, 0), 10.f - 123.f);

  ModelMeta torch;  // RGB, 0..1, ImageNet mean and std
  torch.bgr = false;
  torch.value_scale = 1.f;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  std::copy(mean, mean + 3, torch.mean);
  std::copy(stdev, stdev + 3, torch.std);
  normalize_image(px, torch, t);
  // One float rounding in each of scale, subtract and divide: 1e-6 relative is ample.
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(t.at(0, c, 0, 0), (px.pixels[c] / 255.0 - mean[c]) / stdev[c], 1e-6);

  OwnedTensor wrong(Shape{1, 3, 2, 1});
  EXPECT_THROW(normalize_image(px, caffe, wrong), Error);
}

// The full pipeline on the shared images against the reference inputs. Tolerance 0: the resize is
// integer arithmetic reproducing Pillow's, and the references are bytes minus integer means, so
// every element must match exactly (float anti-aliased bilinear without Pillow's rounding between
// passes is off by up to 1, plain two-tap bilinear by 41 to 72; docs/cli.md).
void expect_matches_reference(const std::string& model, const std::string& image, int size) {
  const std::string shared = CUVIZ_SHARED_DIR;
  ModelMeta meta;
  meta.input_size = size;
  const OwnedTensor got = preprocess(read_image(shared + "/images/" + image + ".png"), meta);
  const OwnedTensor want = read_npy_tensor(shared + "/weights/reference/" + model + "_" + image + "_input.npy");
  EXPECT_TRUE(test::all_close(got, want, 0.0)) << model << " " << image;
}

TEST(Preprocess, MatchesReferenceInputsExactly) {
  expect_matches_reference("bvlc_googlenet", "chelsea", 224);
  expect_matches_reference("bvlc_googlenet", "coffee", 224);
  expect_matches_reference("squeezenet_v1.1", "chelsea", 227);
  expect_matches_reference("squeezenet_v1.1", "coffee", 227);
}

TEST(Preprocess, BatchHoldsEachImageInItsSlot) {
  ModelMeta meta;
  meta.input_size = 8;
  const Image a = ramp(20, 12), b = ramp(9, 30);
  const OwnedTensor both = preprocess(std::vector<Image>{a, b}, meta);
  ASSERT_EQ(both.shape(), (Shape{2, 3, 8, 8}));
  EXPECT_TRUE(test::all_close(both.batch(0, 1), preprocess(a, meta), 0.0));
  EXPECT_TRUE(test::all_close(both.batch(1, 1), preprocess(b, meta), 0.0));
}

}  // namespace
}  // namespace cuviz
