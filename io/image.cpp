// Image decoding and encoding over stb_image / stb_image_write (Debian's libstb, linked as a
// library; no implementation is compiled here), and the byte <-> [0, 1] float conversions
// v = byte / 255, byte = round(clamp(v, 0, 1) * 255).
#include "io/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "io/atomic_file.h"

namespace cuviz {

// 2^28 pixels (16384 x 16384), 768 MiB as RGB bytes: larger than any photo cuviz is meant for.
constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

Image decode_image(const std::string& bytes, const std::string& what) {
  CUVIZ_CHECK(!bytes.empty(), "cannot decode image ", what, ": the file is empty");
  CUVIZ_CHECK(bytes.size() <= size_t(INT32_MAX), "cannot decode image ", what, ": file too large (", bytes.size(),
              " bytes)");
  // Only the documented formats are decoded, chosen by their magic numbers: stb_image would also
  // take TGA, which has none, and decode almost any garbage as a huge "TGA image".
  const bool png = bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0;
  const bool jpeg = bytes.size() >= 3 && bytes.compare(0, 3, "\xff\xd8\xff", 3) == 0;
  CUVIZ_CHECK(png || jpeg, "cannot decode image ", what, ": not a PNG or JPEG file (PNG and JPEG are supported)");
  int w = 0, h = 0, c = 0;
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  // The size in the header is checked before the pixels are allocated.
  if (stbi_info_from_memory(data, int(bytes.size()), &w, &h, &c))
    CUVIZ_CHECK(int64_t(w) * h <= kMaxImagePixels, "cannot decode image ", what, ": ", w, " x ", h,
                " pixels is more than the limit of ", kMaxImagePixels);
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(data, int(bytes.size()), &w, &h, &c, 3),
                                               stbi_image_free);
  if (px == nullptr) {
    const char* reason = stbi_failure_reason();
    throw Error(cat("cannot decode image ", what, ": ", reason && *reason ? reason : "corrupt or truncated data",
                    " (PNG and JPEG are supported)"));
  }
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(px.get(), px.get() + size_t(w) * h * 3);
  return img;
}

Image read_image(const std::string& path) {
  return decode_image(read_file(path), path);
}

namespace {

// stb_image_write's output callback: appends the chunk to a std::string.
void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

std::string encode_png(const Image& image) {
  CUVIZ_CHECK(image.width > 0 && image.height > 0 && image.channels >= 1 && image.channels <= 4,
              "encode_png: invalid image ", image.width, "x", image.height, "x", image.channels);
  CUVIZ_CHECK(image.pixels.size() == size_t(image.width) * image.height * image.channels,
              "encode_png: ", image.pixels.size(), " bytes for a ", image.width, "x", image.height, "x",
              image.channels, " image");
  std::string out;
  const int ok = stbi_write_png_to_func(append_bytes, &out, image.width, image.height, image.channels,
                                        image.pixels.data(), image.width * image.channels);
  CUVIZ_CHECK(ok != 0, "encode_png: stb_image_write failed for a ", image.width, "x", image.height, " image");
  return out;
}

void write_png(const std::string& path, const Image& image) {
  write_file_atomic(path, encode_png(image));
}

OwnedTensor image_to_tensor(const Image& image) {
  CUVIZ_CHECK(image.channels == 3, "image_to_tensor: expected an RGB image, got ", image.channels, " channels");
  OwnedTensor t(Shape{1, 3, image.height, image.width});
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x) t.at(0, c, y, x) = float(image.at(x, y, c)) / 255.f;
  return t;
}

Image tensor_to_image(const Tensor& t, int i) {
  CUVIZ_CHECK(t.device() == Device::cpu, "tensor_to_image: tensor must be on the CPU");
  CUVIZ_CHECK(t.c() == 3 || t.c() == 1, "tensor_to_image: expected 1 or 3 channels, got ", t.shape().str());
  CUVIZ_CHECK(i >= 0 && i < t.n(), "tensor_to_image: image ", i, " out of range for ", t.shape().str());
  Image img;
  img.width = t.w();
  img.height = t.h();
  img.channels = t.c();
  img.pixels.resize(size_t(img.width) * img.height * img.channels);
  for (int c = 0; c < t.c(); ++c)
    for (int y = 0; y < t.h(); ++y)
      for (int x = 0; x < t.w(); ++x) {
        const float v = t.at(i, c, y, x);
        // NaN maps to 0: std::clamp would pass it through and the cast would be undefined.
        const float clamped = std::isnan(v) ? 0.f : std::clamp(v, 0.f, 1.f);
        img.at(x, y, c) = uint8_t(std::lround(clamped * 255.f));
      }
  return img;
}

}  // namespace cuviz

namespace cuviz {

Image percentile_stretch(const Image& image, double percent) {
  CUVIZ_CHECK(percent >= 0 && percent < 50, "percentile_stretch: percent ", percent, " out of range [0, 50)");
  Image out = image;
  const int channels = image.channels;
  if (image.pixels.empty() || channels < 1) return out;
  for (int c = 0; c < channels; ++c) {
    // The percentiles from the channel's byte histogram: the smallest byte with more than
    // `percent`% of the samples at or below it, and the largest with more than `percent`% at or above.
    std::vector<size_t> hist(256, 0);
    for (size_t i = size_t(c); i < image.pixels.size(); i += size_t(channels)) ++hist[image.pixels[i]];
    const double n = double(image.pixels.size() / size_t(channels)), cut = n * percent / 100.0;
    int lo = 0, hi = 255;
    for (double below = 0; lo < 255 && below + double(hist[size_t(lo)]) <= cut; ++lo) below += double(hist[size_t(lo)]);
    for (double above = 0; hi > 0 && above + double(hist[size_t(hi)]) <= cut; --hi) above += double(hist[size_t(hi)]);
    if (hi <= lo) continue;
    for (size_t i = size_t(c); i < out.pixels.size(); i += size_t(channels))
      out.pixels[i] = uint8_t(std::clamp(std::lround(255.0 * (double(out.pixels[i]) - lo) / double(hi - lo)), 0L, 255L));
  }
  return out;
}

}  // namespace cuviz
