// Where an optimised image starts (docs/visualization.md, "The method layer"): Lucid's seeded
// normal(0, 0.01) parameters (today's default), zero parameters, uniform noise, a photo, or an
// .npy holding the PREPROCESSED network input (as `cuviz forward --input x.npy` takes it), so a
// result can be compared exactly with another tool's. A photo is centre-cropped, resized to the
// render size (Pillow-exact, loaders/preprocess.h) and mapped through the inverse of the
// parameterization:
//   input  : x = preprocess(photo) exactly as `classify` computes it
//   pixel  : t = C^-1 logit(rgb), rgb clamped to within a quarter byte of 0 and 1 (so the rendered
//            image rounds back to the photo's bytes)
//   fourier: the same t, then Z = rfft2_ortho(4 t) / scale (the exact inverse of the irfft2 map)
// An .npy sets the network input itself, which only the input parameterization can hold bit for
// bit (a sigmoid or a colour map cannot reproduce arbitrary floats): with pixel or fourier it is
// an error saying so.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "nn/graph.h"
#include "viz/fourier_param.h"

namespace cuviz {

enum class SourceKind {
  seed,   // normal(0, 0.01) parameters from the seed (Lucid; every existing render)
  zeros,  // zero parameters: grey 0.5 for pixel/fourier, the dataset mean (x = 0) for input
  noise,  // image pixels uniform in 0.5 +- noise_amplitude, drawn from the seed
  photo,  // an image file (PNG, JPEG)
  npy,    // an .npy file holding the network input {1 or N, 3, S, S}
  input,  // a network input held in memory (the octave driver's carried image)
};

struct ImageSource {
  SourceKind kind = SourceKind::seed;
  std::string path;               // photo, npy
  float noise_amplitude = 0.1f;   // noise
  std::shared_ptr<const OwnedTensor> tensor;  // input: CPU {1 or N, 3, S, S}

  // "seed", "zeros", "noise", a path ending in .npy, or any other path (a photo).
  static ImageSource parse(const std::string& s);
  // A network input held in memory (copied).
  static ImageSource from_input(const Tensor& x);
  // What the source is, for logs and errors.
  std::string str() const;
};

// "" when `text` names a source the settings take (viz/settings.h, `cuviz render --start`): seed,
// zeros, noise, or a path ending in .png, .jpg, .jpeg or .npy (any case); else why not, listing
// what is taken. (ImageSource::parse takes any other path as a photo too; the settings ask for
// the extension so that a mistyped word is not looked for as a file.)
std::string image_source_text_problem(const std::string& text);

// Throws unless the parameterization `kind` can start from `source`: an .npy or an in-memory
// network input only with param input (init_params checks it too).
void check_source_param(const ImageSource& source, ParamKind kind);

// The network input of a photo or .npy (by extension) for `n` images of size x size: a photo is
// centre-cropped, resized and normalized (as `classify`); an .npy must be {1 or n, 3, size, size}
// (one Error naming both shapes otherwise). An image-only batch of 1 is repeated n times.
OwnedTensor load_network_input(const std::string& path, const ModelMeta& meta, int n, int size);

// The network input of [0, 1] images (CPU {N, 3, H, W}, any size): preprocess(image) as
// `classify` computes it, on the host.
OwnedTensor input_from_image(const Tensor& image, const ModelMeta& meta);

// Fills `params` (spec.param_shape(), on any device) from the source, for a model with `meta`.
// SourceKind::seed is exactly ImageParam::init(params, seed).
void init_params(const ImageSource& source, const ImageParamSpec& spec, const ModelMeta& meta, uint64_t seed,
                 const Tensor& params);

// The inverse of the pixel and fourier parameterizations: the params (CPU, spec.param_shape())
// whose image is `image` (CPU {N, 3, H, W} in [0, 1], clamped to [0.25/255, 1 - 0.25/255]).
void params_from_image(const ImageParamSpec& spec, const Tensor& image, const Tensor& params);

}  // namespace cuviz
