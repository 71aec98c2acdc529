// Image I/O: PNG written by stb_image_write and read back byte for byte, grey/RGBA/16-bit
// conversion to RGB, JPEG decoding, errors for truncated, corrupt and missing files, atomic
// PNG writes, and the exact byte <-> [0, 1] float conversions.
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "test_util.h"
#include "io/image.h"
#include "loaders/loader_test_util.h"

namespace cuviz {
namespace {

using test::TempDir;
using test::throws_with;

// A w x h image with distinct, position-dependent bytes in every channel.
Image pattern(int w, int h, int channels) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.resize(size_t(w) * h * channels);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t((i * 37 + 11) % 256);
  return img;
}

TEST(Image, PngWrittenByStbReadsBackExactly) {
  TempDir dir("image");
  const Image img = pattern(5, 3, 3);
  const std::string path = dir.file("tiny.png");
  ASSERT_NE(stbi_write_png(path.c_str(), img.width, img.height, 3, img.pixels.data(), img.width * 3), 0);
  const Image got = read_image(path);
  EXPECT_EQ(got.width, 5);
  EXPECT_EQ(got.height, 3);
  EXPECT_EQ(got.channels, 3);
  EXPECT_EQ(got.pixels, img.pixels);  // PNG is lossless
}

TEST(Image, WritePngRoundTrip) {
  TempDir dir("image");
  const Image img = pattern(7, 4, 3);
  write_png(dir.file("out.png"), img);
  EXPECT_EQ(read_image(dir.file("out.png")).pixels, img.pixels);
  // Nothing but the target is left in the directory (no temporary file).
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(Image, GreyAndAlphaBecomeRgb) {
  TempDir dir("image");
  const Image grey = pattern(4, 2, 1);
  write_png(dir.file("grey.png"), grey);
  const Image g = read_image(dir.file("grey.png"));
  ASSERT_EQ(g.channels, 3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(g.at(x, y, c), grey.at(x, y, 0));

  const Image rgba = pattern(3, 3, 4);
  write_png(dir.file("rgba.png"), rgba);
  const Image r = read_image(dir.file("rgba.png"));
  ASSERT_EQ(r.channels, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(r.at(x, y, c), rgba.at(x, y, c));
}

TEST(Image, ReadsSharedPngAndJpeg) {
  const Image chelsea = read_image(std::string(CUVIZ_SHARED_DIR) + "/images/chelsea.png");
  EXPECT_EQ(chelsea.width, 451);
  EXPECT_EQ(chelsea.height, 300);
  const Image rocket = read_image(std::string(CUVIZ_SHARED_DIR) + "/images/rocket.jpg");
  EXPECT_EQ(rocket.width, 640);
  EXPECT_EQ(rocket.height, 427);
  EXPECT_EQ(rocket.channels, 3);
}

TEST(Image, TruncatedPngIsAnError) {
  TempDir dir("image");
  const std::string bytes = encode_png(pattern(64, 64, 3));
  // Cut inside the image data: the header parses, the pixels cannot be inflated.
  test::write_text(dir.file("cut.png"), bytes.substr(0, bytes.size() / 2));
  EXPECT_TRUE(throws_with([&] { read_image(dir.file("cut.png")); }, {"cut.png", "cannot decode"}));
  // Only the signature and part of the header.
  test::write_text(dir.file("head.png"), bytes.substr(0, 12));
  EXPECT_TRUE(throws_with([&] { read_image(dir.file("head.png")); }, {"head.png"}));
}

TEST(Image, CorruptEmptyAndMissingFilesAreErrors) {
  TempDir dir("image");
  test::write_text(dir.file("text.png"), "this is not an image\n");
  EXPECT_TRUE(throws_with([&] { read_image(dir.file("text.png")); }, {"text.png", "cannot decode"}));
  test::write_text(dir.file("empty.png"), "");
  EXPECT_TRUE(throws_with([&] { read_image(dir.file("empty.png")); }, {"empty.png", "empty"}));
  EXPECT_TRUE(throws_with([&] { read_image(dir.file("missing.png")); }, {"missing.png"}));
}

TEST(Image, FailedWriteLeavesNoFile) {
  TempDir dir("image");
  const std::string path = dir.file("no_such_dir/out.png");
  EXPECT_TRUE(throws_with([&] { write_png(path, pattern(2, 2, 3)); }, {"out.png"}));
  EXPECT_FALSE(std::filesystem::exists(path));
  Image bad = pattern(2, 2, 3);
  bad.pixels.pop_back();
  EXPECT_TRUE(throws_with([&] { write_png(dir.file("bad.png"), bad); }, {"encode_png"}));
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.png")));
}

TEST(Image, ByteFloatConversionsAreExactInverses) {
  Image img;
  img.width = 256;
  img.height = 1;
  img.pixels.resize(256 * 3);
  for (int x = 0; x < 256; ++x)
    for (int c = 0; c < 3; ++c) img.at(x, 0, c) = uint8_t(c == 1 ? 255 - x : x);
  const OwnedTensor t = image_to_tensor(img);
  ASSERT_EQ(t.shape(), (Shape{1, 3, 1, 256}));
  EXPECT_EQ(t.at(0, 0, 0, 255), 1.f);
  EXPECT_EQ(t.at(0, 1, 0, 255), 0.f);
  EXPECT_FLOAT_EQ(t.at(0, 2, 0, 51), 0.2f);
  EXPECT_EQ(tensor_to_image(t).pixels, img.pixels);
}

TEST(Image, TensorToImageClampsAndRounds) {
  OwnedTensor t(Shape{2, 1, 1, 5});
  const float v[5] = {-0.5f, 0.4f / 255.f, 0.6f / 255.f, 2.f, NAN};
  for (int x = 0; x < 5; ++x) {
    t.at(0, 0, 0, x) = 0.f;
    t.at(1, 0, 0, x) = v[x];
  }
  const Image img = tensor_to_image(t, 1);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 0, 1, 255, 0}));
  EXPECT_THROW(tensor_to_image(t, 2), Error);
}

// The display stretch of a low-contrast class model: bytes 85..155 (a uniform ramp, as the
// simonyan models span) map onto 0..255, in order, with the `percent` tails clamped, each channel
// on its own (a channel offset, the dataset mean's tint, is taken out); a flat image is left alone.
TEST(Image, PercentileStretchSpreadsALowContrastImageOverTheBytes) {
  Image img;
  img.width = 71;
  img.height = 10;
  img.pixels.resize(size_t(71) * 10 * 3);
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 71; ++x)
      for (int c = 0; c < 3; ++c) img.at(x, y, c) = uint8_t(85 + x - 10 * c);  // channel 2: 65..135
  const Image none = percentile_stretch(img, 0.0);
  for (int x = 0; x < 71; ++x) EXPECT_EQ(none.at(x, 3, 1), uint8_t(std::lround(255.0 * x / 70.0))) << x;
  // 2%: each byte value holds 1/71 = 1.4% of the pixels, so 85 (1.4% <= 2%) falls in the tail and
  // lo = 86; likewise hi = 154.
  const Image s = percentile_stretch(img, 2.0);
  EXPECT_EQ(s.at(0, 0, 0), 0);
  EXPECT_EQ(s.at(1, 0, 0), 0);
  EXPECT_EQ(s.at(69, 0, 0), 255);
  EXPECT_EQ(s.at(70, 0, 0), 255);
  EXPECT_EQ(s.at(35, 0, 0), uint8_t(std::lround(255.0 * (120 - 86) / (154 - 86.0))));
  for (int x = 0; x < 71; ++x) {
    EXPECT_EQ(s.at(x, 4, 2), s.at(x, 4, 0)) << x;  // the offset channel stretches the same
    if (x > 0) EXPECT_GE(s.at(x, 0, 0), s.at(x - 1, 0, 0));
  }
  Image flat = img;
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t(128));
  EXPECT_EQ(percentile_stretch(flat).pixels, flat.pixels);
  EXPECT_THROW(percentile_stretch(img, 50.0), Error);
}

}  // namespace
}  // namespace cuviz
