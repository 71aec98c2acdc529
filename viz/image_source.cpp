// Image sources (viz/image_source.h): the network input of a photo or .npy, and the inverse of
// each parameterization, so a start image becomes the parameters the render loop optimises.
#include "viz/image_source.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cuda_runtime.h"
#include "io/image.h"
#include "io/npy.h"
#include "loaders/preprocess.h"
#include "viz/random.h"
#include "viz/transform.h"

namespace cuviz {

namespace {

inline constexpr uint64_t kStreamSourceNoise = 0x4e4f4953ULL;  // "NOIS": the noise source's pixels

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string lowercase(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_npy(const std::string& path) { return ends_with(lowercase(path), ".npy"); }

// The photo, centre-cropped and resized to size x size (Pillow-exact, as `classify` does).
Image photo_at(const std::string& path, int size) {
  return resize_bilinear(center_square_crop(read_image(path)), size, size);
}

// `one` {1 or n, 3, S, S} as n images (image 0 repeated when `one` holds a single image).
OwnedTensor repeated(const Tensor& one, int n) {
  OwnedTensor out(Shape{n, one.c(), one.h(), one.w()});
  for (int i = 0; i < n; ++i) copy(one.batch(one.n() == 1 ? 0 : i, 1), out.batch(i, 1));
  return out;
}

// The inverse of Lucid's colour matrix, in double (cofactors over the determinant).
void inverse_color_matrix(double inv[3][3]) {
  double m[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m[i][j] = color_matrix(i, j);
  const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      // inv[i][j] = cofactor(j, i) / det
      const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      inv[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
    }
}

}  // namespace

// x = preprocess(image) on the host, per channel: net[c] = img[src[c]] * scale[c] + offset[c].
OwnedTensor input_from_image(const Tensor& image, const ModelMeta& meta) {
  const Preprocess pre = Preprocess::from_meta(meta);
  OwnedTensor x(image.shape());
  for (int n = 0; n < image.n(); ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < image.h(); ++y)
        for (int w = 0; w < image.w(); ++w)
          x.at(n, c, y, w) = image.at(n, pre.src[c], y, w) * pre.scale[c] + pre.offset[c];
  return x;
}

ImageSource ImageSource::parse(const std::string& s) {
  ImageSource src;
  CUVIZ_CHECK(!s.empty(), "image source: empty (choices: seed, zeros, noise, PHOTO, X.npy)");
  if (s == "seed") return src;
  if (s == "zeros") {
    src.kind = SourceKind::zeros;
  } else if (s == "noise") {
    src.kind = SourceKind::noise;
  } else {
    src.kind = is_npy(s) ? SourceKind::npy : SourceKind::photo;
    src.path = s;
  }
  return src;
}

ImageSource ImageSource::from_input(const Tensor& x) {
  ImageSource src;
  src.kind = SourceKind::input;
  auto t = std::make_shared<OwnedTensor>(x.shape());
  copy(x, *t);
  src.tensor = std::move(t);
  return src;
}

std::string ImageSource::str() const {
  switch (kind) {
    case SourceKind::seed: return "seed";
    case SourceKind::zeros: return "zeros";
    case SourceKind::noise: return cat("noise(", noise_amplitude, ")");
    case SourceKind::photo:
    case SourceKind::npy: return path;
    case SourceKind::input: return cat("input ", tensor ? tensor->shape().str() : std::string("(none)"));
  }
  return "?";
}

std::string image_source_text_problem(const std::string& text) {
  if (text == "seed" || text == "zeros" || text == "noise") return "";
  const std::string lower = lowercase(text);
  for (const char* ext : {".png", ".jpg", ".jpeg", ".npy"})
    if (lower.size() > std::strlen(ext) && ends_with(lower, ext)) return "";
  return "neither seed, zeros, noise, a photo (.png, .jpg, .jpeg) nor an .npy network input";
}

void check_source_param(const ImageSource& source, ParamKind kind) {
  CUVIZ_CHECK(kind == ParamKind::input || (source.kind != SourceKind::npy && source.kind != SourceKind::input),
              "image source ", source.str(), ": an .npy sets the network input itself, which only the input "
              "parameterization holds exactly (param ", param_kind_name(kind),
              " maps every image through a sigmoid); use param input");
}

OwnedTensor load_network_input(const std::string& path, const ModelMeta& meta, int n, int size) {
  if (!is_npy(path)) {
    const Image img = photo_at(path, size);
    OwnedTensor x(Shape{n, 3, size, size});
    for (int i = 0; i < n; ++i) normalize_image(img, meta, x.batch(i, 1));
    return x;
  }
  const OwnedTensor x = read_npy_tensor(path);
  CUVIZ_CHECK(x.c() == 3 && x.h() == size && x.w() == size && (x.n() == 1 || x.n() == n), "image source ", path,
              ": the .npy holds ", x.shape().str(), " but the render takes the network input ",
              Shape{n, 3, size, size}.str(), (n > 1 ? cat(" (or ", Shape{1, 3, size, size}.str(), " for every image)") : ""));
  return repeated(x, n);
}

void params_from_image(const ImageParamSpec& spec, const Tensor& image, const Tensor& params) {
  CUVIZ_CHECK(spec.kind != ParamKind::input, "params_from_image: the input parameterization takes the network input");
  CUVIZ_CHECK(image.device() == Device::cpu && params.device() == Device::cpu && image.shape() == spec.image_shape() &&
                  params.shape() == spec.param_shape() && image.contiguous() && params.contiguous(),
              "params_from_image: expects CPU tensors ", spec.image_shape().str(), " and ", spec.param_shape().str(),
              ", got ", image.shape().str(), " and ", params.shape().str());
  const int h = spec.h, w = spec.w;
  const int64_t hw = int64_t(h) * w;
  // A quarter byte from 0 and 1: logit stays finite and the image still rounds to the same bytes.
  const double lo = 0.25 / 255, hi = 1 - 0.25 / 255;
  double cinv[3][3];
  inverse_color_matrix(cinv);
  std::vector<double> t(size_t(3) * hw);
  for (int n = 0; n < spec.n; ++n) {
    const float* img = image.image(n);
    for (int64_t k = 0; k < hw; ++k) {
      double z[3];
      for (int c = 0; c < 3; ++c) {
        const double v = std::fmin(std::fmax(double(img[c * hw + k]), lo), hi);
        z[c] = std::log(v / (1 - v));
      }
      for (int c = 0; c < 3; ++c)
        t[size_t(c * hw + k)] = spec.decorrelate ? cinv[c][0] * z[0] + cinv[c][1] * z[1] + cinv[c][2] * z[2] : z[c];
    }
    float* out = params.image(n);
    if (spec.kind == ParamKind::pixel) {
      for (size_t k = 0; k < t.size(); ++k) out[k] = float(t[k]);
      continue;
    }
    // fourier: t = irfft2_ortho(Z scale) / 4, so Z = rfft2_ortho(4 t) / scale. Separable, in double:
    // along W (real -> half spectrum), then along H (complex).
    const int wh = spec.wh();
    const double two_pi = 6.283185307179586476925286766559;
    const double norm = 4.0 / std::sqrt(double(h) * double(w));
    std::vector<double> ar(size_t(h) * wh), ai(size_t(h) * wh);
    for (int c = 0; c < 3; ++c) {
      const double* tp = &t[size_t(c * hw)];
      for (int y = 0; y < h; ++y)
        for (int kx = 0; kx < wh; ++kx) {
          double re = 0, im = 0;
          for (int x = 0; x < w; ++x) {
            const double a = two_pi * double(int64_t(kx) * x % w) / w;
            re += tp[y * w + x] * std::cos(a);
            im -= tp[y * w + x] * std::sin(a);
          }
          ar[size_t(y * wh + kx)] = re;
          ai[size_t(y * wh + kx)] = im;
        }
      float* z = out + c * int64_t(h) * wh * 2;
      for (int ky = 0; ky < h; ++ky)
        for (int kx = 0; kx < wh; ++kx) {
          double re = 0, im = 0;
          for (int y = 0; y < h; ++y) {
            const double a = two_pi * double(int64_t(ky) * y % h) / h;
            const double cs = std::cos(a), sn = -std::sin(a);
            re += ar[size_t(y * wh + kx)] * cs - ai[size_t(y * wh + kx)] * sn;
            im += ar[size_t(y * wh + kx)] * sn + ai[size_t(y * wh + kx)] * cs;
          }
          const double s = double(spectrum_scale(ky, kx, h, w, spec.decay_power));
          z[(ky * wh + kx) * 2] = float(re * norm / s);
          z[(ky * wh + kx) * 2 + 1] = float(im * norm / s);
        }
    }
  }
}

void init_params(const ImageSource& source, const ImageParamSpec& spec, const ModelMeta& meta, uint64_t seed,
                 const Tensor& params) {
  CUVIZ_CHECK(params.shape() == spec.param_shape() && params.contiguous(), "init_params: params ",
              params.shape().str(), ", the parameterization needs ", spec.param_shape().str());
  const bool input = spec.kind == ParamKind::input;
  check_source_param(source, spec.kind);
  CUVIZ_CHECK(spec.h == spec.w || source.kind == SourceKind::seed || source.kind == SourceKind::zeros ||
                  source.kind == SourceKind::input,
              "image source ", source.str(), ": needs a square render, got ", spec.h, "x", spec.w);
  OwnedTensor host(spec.param_shape());
  float* p = host.data();
  const int64_t count = host.numel();
  switch (source.kind) {
    case SourceKind::seed:  // exactly ImageParam::init's draws
      for (int64_t k = 0; k < count; ++k) p[k] = float(0.01f * random_normal(seed, kStreamParamInit, uint64_t(k)));
      break;
    case SourceKind::zeros:
      std::memset(p, 0, size_t(count) * sizeof(float));
      break;
    case SourceKind::noise:
    case SourceKind::photo: {
      OwnedTensor image(spec.image_shape());
      if (source.kind == SourceKind::noise) {
        CUVIZ_CHECK(source.noise_amplitude >= 0.f && source.noise_amplitude <= 0.5f, "image source noise: amplitude ",
                    source.noise_amplitude, " out of range (0..0.5)");
        for (int64_t k = 0; k < image.numel(); ++k) {
          const double u = double(random_bits(seed, kStreamSourceNoise, uint64_t(k)) >> 11) * (1.0 / 9007199254740992.0);
          image.data()[k] = float(0.5 + double(source.noise_amplitude) * (2 * u - 1));
        }
      } else {
        const OwnedTensor one = image_to_tensor(photo_at(source.path, spec.h));
        copy(repeated(one, spec.n), image);
      }
      if (!input) {
        params_from_image(spec, image, host);
      } else if (source.kind == SourceKind::photo) {
        copy(load_network_input(source.path, meta, spec.n, spec.h), host);  // bit for bit `classify`'s input
      } else {
        copy(input_from_image(image, meta), host);
      }
      break;
    }
    case SourceKind::npy:
      copy(load_network_input(source.path, meta, spec.n, spec.h), host);
      break;
    case SourceKind::input: {
      CUVIZ_CHECK(source.tensor, "image source: no input tensor");
      const Tensor& x = *source.tensor;
      CUVIZ_CHECK(x.c() == 3 && x.h() == spec.h && x.w() == spec.w && (x.n() == 1 || x.n() == spec.n),
                  "image source: the input holds ", x.shape().str(), " but the render takes the network input ",
                  spec.image_shape().str());
      copy(repeated(x, spec.n), host);
      break;
    }
  }
  if (params.device() == Device::cpu)
    std::memcpy(params.data(), p, size_t(count) * sizeof(float));
  else
    cuda_rt::memcpy(params.data(), true, p, false, size_t(count) * sizeof(float));
}

}  // namespace cuviz
