// Images in and out: PNG and JPEG decoded to 8-bit RGB (stb_image), PNG written as 8-bit sRGB
// (stb_image_write) under a temporary name and renamed, and the conversions between an 8-bit
// image and a float tensor {1, 3, H, W} holding RGB in [0, 1] (v = byte / 255).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cuviz {

// An 8-bit image, rows top to bottom, pixels interleaved (RGB when channels == 3).
struct Image {
  int width = 0, height = 0, channels = 3;
  std::vector<uint8_t> pixels;  // height * width * channels bytes

  // Byte of channel c of pixel (x, y).
  uint8_t at(int x, int y, int c) const { return pixels[(size_t(y) * width + x) * channels + c]; }
  uint8_t& at(int x, int y, int c) { return pixels[(size_t(y) * width + x) * channels + c]; }
};

// Decodes a PNG or JPEG file (grey, grey + alpha, RGB, RGBA; 8 or 16 bits) to 8-bit RGB; alpha is
// dropped. Throws cuviz::Error naming the file when it cannot be read or decoded.
Image read_image(const std::string& path);
// Decodes PNG or JPEG bytes held in memory; `what` names the source in error messages.
Image decode_image(const std::string& bytes, const std::string& what);

// Encodes an 8-bit image (1 to 4 channels) as PNG bytes.
std::string encode_png(const Image& image);
// Writes an 8-bit image as a PNG file atomically (temporary name in the same directory, then
// rename): on any error no file appears under `path`.
void write_png(const std::string& path, const Image& image);

// The RGB image as a float tensor {1, 3, H, W} with values byte / 255 in [0, 1].
OwnedTensor image_to_tensor(const Image& image);
// Image i of a CPU tensor {N, 3 or 1, H, W} holding [0, 1] values as an 8-bit image: each value
// is clamped to [0, 1] and rounded to the nearest byte; the values are taken as sRGB-encoded.
Image tensor_to_image(const Tensor& t, int i = 0);

// A contrast-stretched copy for display (the optimised image itself is left as it is): per
// channel, lo and hi are the `percent` and 100 - `percent` percentiles of that channel's bytes,
// and each byte v becomes round(255 (v - lo) / (hi - lo)) clamped to [0, 255]. Per channel, so a
// class model that deviates a few bytes from the dataset mean (a brownish grey) shows its
// deviations on a neutral grey rather than the mean's tint blown up. A channel with hi == lo is
// left unchanged. percent in [0, 50).
Image percentile_stretch(const Image& image, double percent = 0.5);

}  // namespace cuviz
