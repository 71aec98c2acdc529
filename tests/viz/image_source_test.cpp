// Image sources: the default (seed) draws exactly what every render drew before; an .npy start
// feeds the network the file's floats bit for bit; a photo start renders back to the photo's bytes
// through each parameterization (the inverse sigmoid, colour matrix and rfft2 are exact to a
// quarter byte); zeros and noise; one clear Error per bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "../nn/reference_net.h"
#include "io/image.h"
#include "io/npy.h"
#include "loaders/preprocess.h"
#include "nn/network.h"
#include "test_util.h"
#include "method_test_util.h"
#include "viz/image_source.h"
#include "viz/render.h"

namespace cuviz {
namespace {

RenderOptions start_options(ParamKind kind, const ImageSource& src, int size = 16, int batch = 1) {
  RenderOptions o;
  o.size = size;
  o.batch = batch;
  o.param = kind;
  o.seed = 5;
  o.source = src;
  o.transforms = TransformSpec::none();
  return o;
}

// A 20 x 24 photo with every byte value, the extremes 0 and 255 included, written as a PNG.
std::string write_photo(const std::string& name) {
  Image img;
  img.width = 20;
  img.height = 24;
  img.pixels.resize(size_t(20) * 24 * 3);
  std::mt19937 rng(3);
  for (size_t k = 0; k < img.pixels.size(); ++k) img.pixels[k] = uint8_t(k < 6 ? (k % 2) * 255 : rng() % 256);
  const std::string path = cat(::testing::TempDir(), "/", name);
  write_png(path, img);
  return path;
}

TEST(ImageSource, SeedDrawsExactlyWhatImageParamInitDraws) {
  for (ParamKind kind : {ParamKind::fourier, ParamKind::pixel}) {
    ImageParamSpec spec;
    spec.kind = kind;
    spec.n = 2;
    spec.h = 12;
    spec.w = 10;
    OwnedTensor a(spec.param_shape()), b(spec.param_shape());
    ImageParam(spec, Device::cpu).init(a, 9);
    init_params(ImageSource{}, spec, ModelMeta{}, 9, b);
    EXPECT_TRUE(test::same_bits(a, b)) << param_kind_name(kind);
  }
}

TEST(ImageSource, ParseNamesTheKinds) {
  EXPECT_EQ(ImageSource::parse("seed").kind, SourceKind::seed);
  EXPECT_EQ(ImageSource::parse("zeros").kind, SourceKind::zeros);
  EXPECT_EQ(ImageSource::parse("noise").kind, SourceKind::noise);
  EXPECT_EQ(ImageSource::parse("a/x.npy").kind, SourceKind::npy);
  EXPECT_EQ(ImageSource::parse("a/dog.jpg").kind, SourceKind::photo);
  EXPECT_EQ(ImageSource::parse("a/dog.jpg").path, "a/dog.jpg");
  EXPECT_THROW(ImageSource::parse(""), Error);
}

// The acceptance test of the .npy start: the network input of step 0 is the file, bit for bit,
// odd floats (negative zero, subnormals, values far outside the image range) included.
TEST(ImageSource, NpyStartFeedsTheNetworkTheFileBitForBit) {
  Network net(test::small_net(), Device::cpu);
  OwnedTensor x(Shape{1, 3, 16, 16});
  test::fill_uniform(x, 4, -150.0, 150.0);
  x.data()[0] = -0.f;
  x.data()[1] = 1e-42f;
  x.data()[2] = 3.4e38f;
  const std::string path = cat(::testing::TempDir(), "/start.npy");
  write_npy(path, x);
  for (int batch : {1, 2}) {
    Renderer r(net, {channel("inc/output", 3)}, start_options(ParamKind::input, ImageSource::parse(path), 16, batch));
    r.gradient(0);
    const Tensor& in = r.network_input();
    ASSERT_EQ(in.n(), batch);
    OwnedTensor host(in.shape());
    copy(in, host);
    for (int i = 0; i < batch; ++i) EXPECT_TRUE(test::same_bits(host.batch(i, 1), x)) << "image " << i;
    // evaluate() at step 0 without transforms sees the same input.
    r.evaluate(0, false);
    copy(r.network_input(), host);
    EXPECT_TRUE(test::same_bits(host.batch(0, 1), x));
  }
}

TEST(ImageSource, NpyOfTheWrongShapeNamesBothShapes) {
  Network net(test::small_net(), Device::cpu);
  OwnedTensor x(Shape{1, 3, 8, 8});
  fill(x, 0.f);
  const std::string path = cat(::testing::TempDir(), "/small.npy");
  write_npy(path, x);
  try {
    Renderer r(net, {channel("inc/output", 3)}, start_options(ParamKind::input, ImageSource::parse(path), 16, 2));
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(Shape{1, 3, 8, 8}.str()), std::string::npos) << m;
    EXPECT_NE(m.find(Shape{2, 3, 16, 16}.str()), std::string::npos) << m;
    EXPECT_NE(m.find(path), std::string::npos) << m;
  }
  // An .npy with a sigmoid parameterization cannot be exact: an error that says what to use.
  OwnedTensor good(Shape{1, 3, 16, 16});
  fill(good, 0.f);
  write_npy(path, good);
  try {
    Renderer r(net, {channel("inc/output", 3)}, start_options(ParamKind::pixel, ImageSource::parse(path)));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("param input"), std::string::npos) << e.what();
  }
}

TEST(ImageSource, UnreadablePhotoIsOneErrorNamingTheFile) {
  Network net(test::small_net(), Device::cpu);
  const std::string path = cat(::testing::TempDir(), "/no_such_photo.png");
  for (ParamKind kind : {ParamKind::input, ParamKind::pixel}) {
    try {
      Renderer r(net, {channel("inc/output", 3)}, start_options(kind, ImageSource::parse(path)));
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

// Step 0's image, rounded to bytes, is the resized photo for every parameterization: the inverse
// maps are exact up to float rounding, far inside the quarter byte the clamp leaves.
TEST(ImageSource, PhotoStartRendersBackToThePhotosBytes) {
  const std::string path = write_photo("start.png");
  const Image want = resize_bilinear(center_square_crop(read_image(path)), 16, 16);
  Network net(test::small_net(), Device::cpu);
  for (ParamKind kind : {ParamKind::pixel, ParamKind::fourier, ParamKind::input})
    for (bool decorrelate : {true, false}) {
      RenderOptions o = start_options(kind, ImageSource::parse(path), 16, 2);
      o.decorrelate = decorrelate;
      Renderer r(net, {channel("inc/output", 3)}, o);
      OwnedTensor img(Shape{2, 3, 16, 16});
      r.images(img);
      for (int i = 0; i < 2; ++i)
        EXPECT_EQ(tensor_to_image(img, i).pixels, want.pixels)
            << param_kind_name(kind) << " decorrelate " << decorrelate << " image " << i;
    }
}

// With param input a photo start is the network input `classify` computes for it, bit for bit.
TEST(ImageSource, PhotoStartWithInputParamIsThePreprocessedPhoto) {
  const std::string path = write_photo("classify.png");
  Graph g = test::small_net();
  g.meta.input_size = 16;
  const OwnedTensor want = preprocess(read_image(path), g.meta);
  Network net(std::move(g), Device::cpu);
  Renderer r(net, {channel("inc/output", 3)}, start_options(ParamKind::input, ImageSource::parse(path)));
  EXPECT_TRUE(test::same_bits(r.params(), want));
}

// The pixel and fourier inverses on a smooth image away from the clamp: forward(inverse(image))
// returns the image to float precision, for odd and even sizes (the Nyquist column).
TEST(ImageSource, ParamsFromImageInvertsTheParameterization) {
  for (ParamKind kind : {ParamKind::pixel, ParamKind::fourier})
    for (auto [h, w] : {std::pair{9, 9}, std::pair{8, 8}, std::pair{7, 10}}) {
      ImageParamSpec spec;
      spec.kind = kind;
      spec.n = 2;
      spec.h = h;
      spec.w = w;
      OwnedTensor image(spec.image_shape()), params(spec.param_shape()), back(spec.image_shape());
      test::fill_uniform(image, 8, 0.05, 0.95);
      params_from_image(spec, image, params);
      ImageParam(spec, Device::cpu).forward(params, back);
      EXPECT_TRUE(test::all_close(back, image, 2e-6)) << param_kind_name(kind) << " " << h << "x" << w;
    }
}

TEST(ImageSource, ZerosAndNoise) {
  Network net(test::small_net(), Device::cpu);
  {  // zero parameters: grey for pixel and fourier (sigmoid(0) = 0.5 exactly), x = 0 for input
    for (ParamKind kind : {ParamKind::pixel, ParamKind::fourier}) {
      Renderer r(net, {channel("inc/output", 3)}, start_options(kind, ImageSource::parse("zeros")));
      OwnedTensor img(Shape{1, 3, 16, 16});
      r.images(img);
      for (int64_t k = 0; k < img.numel(); ++k) ASSERT_EQ(img.data()[k], 0.5f) << param_kind_name(kind);
    }
    Renderer r(net, {channel("inc/output", 3)}, start_options(ParamKind::input, ImageSource::parse("zeros")));
    for (int64_t k = 0; k < r.params().numel(); ++k) ASSERT_EQ(r.params().data()[k], 0.f);
  }
  // Noise: uniform in 0.5 +- 0.1 (mean 0.5, standard deviation 0.1 / sqrt 3), seeded.
  auto noise = [&](uint64_t seed, ParamKind kind) {
    RenderOptions o = start_options(kind, ImageSource::parse("noise"), 32);
    o.seed = seed;
    Renderer r(net, {channel("inc/output", 3)}, o);
    OwnedTensor img(Shape{1, 3, 32, 32});
    r.images(img);
    return img;
  };
  for (ParamKind kind : {ParamKind::pixel, ParamKind::input}) {
    const OwnedTensor a = noise(1, kind);
    double mean = 0, var = 0;
    for (int64_t k = 0; k < a.numel(); ++k) {
      EXPECT_GE(a.data()[k], 0.4f - 1e-5f);
      EXPECT_LE(a.data()[k], 0.6f + 1e-5f);
      mean += a.data()[k] / double(a.numel());
    }
    for (int64_t k = 0; k < a.numel(); ++k) var += (a.data()[k] - mean) * (a.data()[k] - mean) / double(a.numel());
    EXPECT_NEAR(mean, 0.5, 0.005);
    EXPECT_NEAR(std::sqrt(var), 0.1 / std::sqrt(3.0), 0.003);
    EXPECT_TRUE(test::same_bits(a, noise(1, kind)));
    EXPECT_FALSE(test::same_bits(a, noise(2, kind)));
  }
}

}  // namespace
}  // namespace cuviz
