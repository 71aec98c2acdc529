// The models' input preprocessing: centre square crop, bilinear resize to the input size, then
// per network channel x = (byte / 255 * value_scale - mean) / std in the model's channel order
// (ModelMeta in nn/graph.h). The resize reproduces Pillow's Image.resize(BILINEAR) bit for bit
// (triangle filter widened by the scale factor when shrinking, i.e. antialiased; pixel centres
// at i + 0.5; 22-bit fixed-point weights; horizontal pass first, rounded to bytes in between),
// the convention of torchvision and of the reference inputs in shared/weights/reference.
#pragma once

#include <vector>

#include "io/image.h"
#include "nn/graph.h"
#include "core/tensor.h"

namespace cuviz {

// The largest centred square: side min(W, H), first column floor((W - side) / 2), first row
// floor((H - side) / 2).
Image center_square_crop(const Image& image);

// Pillow-exact bilinear resize of an 8-bit image to width x height (antialiased when shrinking).
Image resize_bilinear(const Image& image, int width, int height);

// Writes the network input for an RGB image already at the network's size into `dst`, a CPU
// tensor {1, 3, H, W} (or one image of a batch): channel order, value scale, mean and std of `meta`.
void normalize_image(const Image& image, const ModelMeta& meta, const Tensor& dst);

// Crop, resize to meta.input_size and normalize: the input tensor {1, 3, S, S} for one image.
OwnedTensor preprocess(const Image& image, const ModelMeta& meta);
// The same for several images at once: {N, 3, S, S}, image i in batch slot i.
OwnedTensor preprocess(const std::vector<Image>& images, const ModelMeta& meta);

}  // namespace cuviz
