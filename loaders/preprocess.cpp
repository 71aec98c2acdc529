// Preprocessing of images for a model: centre crop, Pillow-exact bilinear resize, normalization.
// Resize, per axis: output pixel i has centre c = (i + 0.5) * s in input coordinates (s = in/out)
// and takes sum_j k(j) * p_j over the input pixels j whose centres j + 0.5 lie within support
// f = max(s, 1) of c, with k(j) proportional to the triangle 1 - |j + 0.5 - c| / f, normalized to 1.
#include "loaders/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace cuviz {

Image center_square_crop(const Image& image) {
  CUVIZ_CHECK(image.width > 0 && image.height > 0, "center_square_crop: empty image");
  const int side = std::min(image.width, image.height);
  const int x0 = (image.width - side) / 2, y0 = (image.height - side) / 2;
  Image out;
  out.width = out.height = side;
  out.channels = image.channels;
  out.pixels.resize(size_t(side) * side * image.channels);
  const size_t row = size_t(side) * image.channels;
  for (int y = 0; y < side; ++y)
    std::copy_n(&image.pixels[(size_t(y0 + y) * image.width + x0) * image.channels], row,
                &out.pixels[size_t(y) * row]);
  return out;
}

namespace {

// Pillow's fixed-point precision: weights are integers scaled by 2^22, so a sum of 255 * 2^22
// still fits in 32 bits with room for rounding.
constexpr int kPrecisionBits = 22;

// The weights of one axis: output i reads input pixels [first[i], first[i] + count[i]) with
// integer weights k[i * ksize + j].
struct AxisWeights {
  std::vector<int> first, count;
  std::vector<int32_t> k;
  int ksize = 0;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter.
// The double arithmetic and the truncating int casts follow Pillow exactly: changing either moves
// some weights by one unit of 2^-22 and some output bytes by one.
AxisWeights axis_weights(int in_size, int out_size) {
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // the triangle's support is 1 at scale 1
  AxisWeights a;
  a.ksize = int(std::ceil(support)) * 2 + 1;
  a.first.resize(out_size);
  a.count.resize(out_size);
  a.k.assign(size_t(out_size) * a.ksize, 0);
  std::vector<double> w(a.ksize);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(int(center - support + 0.5), 0);
    const int hi = std::min(int(center + support + 0.5), in_size);
    double total = 0;
    for (int j = 0; j < hi - lo; ++j) {
      const double x = std::abs((j + lo - center + 0.5) / filterscale);
      w[j] = x < 1.0 ? 1.0 - x : 0.0;
      total += w[j];
    }
    a.first[i] = lo;
    a.count[i] = hi - lo;
    for (int j = 0; j < hi - lo; ++j) {
      const double wn = total != 0.0 ? w[j] / total : 0.0;
      a.k[size_t(i) * a.ksize + j] = int32_t(wn < 0 ? -0.5 + wn * (1 << kPrecisionBits)
                                                     : 0.5 + wn * (1 << kPrecisionBits));
    }
  }
  return a;
}

// Rounds a fixed-point sum (already offset by one half) to a byte, clamped to [0, 255].
uint8_t to_byte(int64_t sum) {
  return uint8_t(std::clamp<int64_t>(sum >> kPrecisionBits, 0, 255));
}

// One pass along x: in is in_w wide, out is a.first.size() wide, both `height` rows.
Image resample_horizontal(const Image& in, const AxisWeights& a) {
  Image out;
  out.width = int(a.first.size());
  out.height = in.height;
  out.channels = in.channels;
  out.pixels.resize(size_t(out.width) * out.height * out.channels);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const int32_t* k = &a.k[size_t(x) * a.ksize];
      for (int c = 0; c < in.channels; ++c) {
        int64_t sum = int64_t(1) << (kPrecisionBits - 1);
        for (int j = 0; j < a.count[x]; ++j) sum += int64_t(in.at(a.first[x] + j, y, c)) * k[j];
        out.at(x, y, c) = to_byte(sum);
      }
    }
  return out;
}

// One pass along y.
Image resample_vertical(const Image& in, const AxisWeights& a) {
  Image out;
  out.width = in.width;
  out.height = int(a.first.size());
  out.channels = in.channels;
  out.pixels.resize(size_t(out.width) * out.height * out.channels);
  for (int y = 0; y < out.height; ++y) {
    const int32_t* k = &a.k[size_t(y) * a.ksize];
    for (int x = 0; x < in.width; ++x)
      for (int c = 0; c < in.channels; ++c) {
        int64_t sum = int64_t(1) << (kPrecisionBits - 1);
        for (int j = 0; j < a.count[y]; ++j) sum += int64_t(in.at(x, a.first[y] + j, c)) * k[j];
        out.at(x, y, c) = to_byte(sum);
      }
  }
  return out;
}

}  // namespace

Image resize_bilinear(const Image& image, int width, int height) {
  CUVIZ_CHECK(image.width > 0 && image.height > 0, "resize_bilinear: empty image");
  CUVIZ_CHECK(width > 0 && height > 0, "resize_bilinear: invalid target size ", width, "x", height);
  // Pillow skips a pass whose size does not change; its horizontal pass comes first.
  Image out = image;
  if (width != image.width) out = resample_horizontal(out, axis_weights(image.width, width));
  if (height != image.height) out = resample_vertical(out, axis_weights(image.height, height));
  return out;
}

void normalize_image(const Image& image, const ModelMeta& meta, const Tensor& dst) {
  CUVIZ_CHECK(image.channels == 3, "normalize_image: expected an RGB image, got ", image.channels, " channels");
  CUVIZ_CHECK(dst.device() == Device::cpu && dst.n() == 1 && dst.c() == 3 && dst.h() == image.height &&
                  dst.w() == image.width,
              "normalize_image: a ", image.width, "x", image.height, " image does not fit ", dst.shape().str());
  // byte * (value_scale / 255): exact for Caffe's value_scale 255, where the factor is 1.
  const float factor = meta.value_scale / 255.f;
  for (int c = 0; c < 3; ++c) {
    const int src = meta.bgr ? 2 - c : c;
    const float mean = meta.mean[c], std = meta.std[c];
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x)
        dst.at(0, c, y, x) = (float(image.at(x, y, src)) * factor - mean) / std;
  }
}

OwnedTensor preprocess(const Image& image, const ModelMeta& meta) {
  return preprocess(std::vector<Image>{image}, meta);
}

OwnedTensor preprocess(const std::vector<Image>& images, const ModelMeta& meta) {
  CUVIZ_CHECK(!images.empty(), "preprocess: no image");
  CUVIZ_CHECK(meta.input_size > 0, "preprocess: model input size ", meta.input_size);
  const int s = meta.input_size;
  OwnedTensor t(Shape{int(images.size()), 3, s, s});
  for (size_t i = 0; i < images.size(); ++i)
    normalize_image(resize_bilinear(center_square_crop(images[i]), s, s), meta, t.batch(int(i), 1));
  return t;
}

}  // namespace cuviz
