// Caffe loader: both shipped models (GoogLeNet: legacy V1 caffemodel; SqueezeNet: new-style),
// their structure, weight shapes and parameter counts, and a clear cuviz::Error for every kind
// of broken input (truncated or corrupt weights, unknown layer types, shape mismatches).
#include "loaders/caffe_loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "loader_test_util.h"
#include "loaders/caffe.pb.h"
#include "loaders/graph_builder.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

Graph load_googlenet() {
  return load_caffe(googlenet_dir() + "/deploy.prototxt", googlenet_dir() + "/bvlc_googlenet.caffemodel");
}
Graph load_squeezenet() {
  return load_caffe(squeezenet_dir() + "/deploy.prototxt", squeezenet_dir() + "/squeezenet_v1.1.caffemodel");
}

TEST(CaffeLoader, GoogLeNetFromLegacyV1Weights) {
  const Graph g = load_googlenet();
  EXPECT_EQ(g.name, "GoogleNet");
  EXPECT_EQ(g.input, "data");
  EXPECT_EQ(g.input_shape, (Shape{10, 3, 224, 224}));  // as declared by BVLC's deploy file
  EXPECT_EQ(g.meta.input_size, 224);
  // Counts of the deploy.prototxt's layer types (the Input layer is not a graph layer).
  EXPECT_EQ(g.layers.size(), 142u);
  EXPECT_EQ(count_kind(g, LayerKind::conv), 57);
  EXPECT_EQ(count_kind(g, LayerKind::relu), 57);
  EXPECT_EQ(count_kind(g, LayerKind::pool), 14);
  EXPECT_EQ(count_kind(g, LayerKind::lrn), 2);
  EXPECT_EQ(count_kind(g, LayerKind::concat), 9);
  EXPECT_EQ(count_kind(g, LayerKind::linear), 1);
  EXPECT_EQ(count_kind(g, LayerKind::dropout), 1);
  EXPECT_EQ(count_kind(g, LayerKind::softmax), 1);
  // 6,998,552 = the sum of the initializer sizes in the ONNX export (the deploy head only:
  // the caffemodel's auxiliary classifiers are not part of the graph).
  EXPECT_EQ(graph_parameter_count(g), 6998552);

  const LayerDesc& conv1 = layer(g, "conv1/7x7_s2");
  EXPECT_EQ(conv1.kind, LayerKind::conv);
  EXPECT_EQ(conv1.inputs, std::vector<std::string>{"data"});
  ASSERT_EQ(conv1.weights.size(), 2u);
  EXPECT_EQ(conv1.weights[0].shape(), (Shape{64, 3, 7, 7}));
  EXPECT_EQ(conv1.weights[1].shape(), (Shape{1, 64, 1, 1}));
  EXPECT_EQ(conv1.conv.stride_h, 2);
  EXPECT_EQ(conv1.conv.pad_top, 3);
  EXPECT_EQ(conv1.conv.pad_right, 3);

  const LayerDesc& relu1 = layer(g, "conv1/relu_7x7");  // in place in Caffe
  EXPECT_EQ(relu1.inputs[0], "conv1/7x7_s2");
  EXPECT_EQ(relu1.output, "conv1/7x7_s2");

  const LayerDesc& pool1 = layer(g, "pool1/3x3_s2");
  EXPECT_EQ(pool1.pool.mode, PoolMode::max);
  EXPECT_TRUE(pool1.pool.ceil_mode);  // Caffe rounds pooled sizes up
  EXPECT_EQ(pool1.pool.kernel_h, 3);
  EXPECT_EQ(pool1.pool.stride_w, 2);

  const LayerDesc& pool5 = layer(g, "pool5/7x7_s1");
  EXPECT_EQ(pool5.pool.mode, PoolMode::average);
  EXPECT_EQ(pool5.pool.kernel_w, 7);
  EXPECT_FALSE(pool5.pool.global);

  const LayerDesc& norm1 = layer(g, "pool1/norm1");
  EXPECT_EQ(norm1.lrn.size, 5);
  EXPECT_FLOAT_EQ(norm1.lrn.alpha, 1e-4f);
  EXPECT_FLOAT_EQ(norm1.lrn.beta, 0.75f);
  EXPECT_FLOAT_EQ(norm1.lrn.k, 1.f);

  const LayerDesc& fc = layer(g, "loss3/classifier");
  EXPECT_EQ(fc.kind, LayerKind::linear);
  EXPECT_EQ(fc.weights[0].shape(), (Shape{1000, 1024, 1, 1}));
  EXPECT_EQ(fc.weights[1].shape(), (Shape{1, 1000, 1, 1}));

  EXPECT_EQ(layer(g, "inception_3a/output").inputs.size(), 4u);
  EXPECT_EQ(g.layers.back().name, "prob");
  EXPECT_EQ(g.layers.back().kind, LayerKind::softmax);
}

TEST(CaffeLoader, SqueezeNetFromNewStyleWeights) {
  const Graph g = load_squeezenet();
  EXPECT_EQ(g.input_shape, (Shape{10, 3, 227, 227}));
  EXPECT_EQ(g.meta.input_size, 227);
  EXPECT_EQ(g.layers.size(), 66u);
  EXPECT_EQ(count_kind(g, LayerKind::conv), 26);
  EXPECT_EQ(count_kind(g, LayerKind::relu), 26);
  EXPECT_EQ(count_kind(g, LayerKind::pool), 4);
  EXPECT_EQ(count_kind(g, LayerKind::concat), 8);
  EXPECT_EQ(graph_parameter_count(g), 1235496);  // sum of the ONNX export's initializer sizes
  EXPECT_EQ(layer(g, "conv1").weights[0].shape(), (Shape{64, 3, 3, 3}));
  EXPECT_EQ(layer(g, "conv10").weights[0].shape(), (Shape{1000, 512, 1, 1}));
  EXPECT_TRUE(layer(g, "pool10").pool.global);
  EXPECT_EQ(layer(g, "pool10").pool.mode, PoolMode::average);
}

TEST(CaffeLoader, LegacyInputDimsAndTrainingLayersAreAccepted) {
  TempDir dir("caffe");
  std::string text = read_text(squeezenet_dir() + "/deploy.prototxt");
  // Replace the Input layer with the deprecated net-level input + input_dim form.
  const size_t first = text.find("layer {");
  const size_t second = text.find("layer {", first + 1);
  text = "input: \"data\"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 227\ninput_dim: 227\n" +
         text.substr(0, first) + text.substr(second);
  // Training-only layers reading a label blob that nothing declares must be skipped.
  text += "layer { name: \"label\" type: \"Data\" top: \"label\" }\n"
          "layer { name: \"loss\" type: \"SoftmaxWithLoss\" bottom: \"pool10\" bottom: \"label\" top: \"loss\" }\n"
          "layer { name: \"accuracy\" type: \"Accuracy\" bottom: \"pool10\" bottom: \"label\" top: \"acc\" "
          "include { phase: TEST } }\n";
  write_text(dir.file("deploy.prototxt"), text);
  const Graph g = load_caffe(dir.file("deploy.prototxt"), squeezenet_dir() + "/squeezenet_v1.1.caffemodel");
  EXPECT_EQ(g.input_shape, (Shape{1, 3, 227, 227}));
  EXPECT_EQ(g.layers.size(), 66u);
}

TEST(CaffeLoader, TruncatedCaffemodelIsAnError) {
  TempDir dir("caffe");
  const std::string src = squeezenet_dir() + "/squeezenet_v1.1.caffemodel";
  const std::string dst = dir.file("truncated.caffemodel");
  std::filesystem::copy_file(src, dst);
  std::filesystem::resize_file(dst, std::filesystem::file_size(src) / 2);
  EXPECT_TRUE(throws_with([&] { load_caffe(squeezenet_dir() + "/deploy.prototxt", dst); },
                          {"truncated.caffemodel", "truncated or corrupt"}));
}

TEST(CaffeLoader, CorruptCaffemodelIsAnError) {
  TempDir dir("caffe");
  std::string bytes = read_text(googlenet_dir() + "/bvlc_googlenet.caffemodel");
  // 0xff bytes form an over-long varint where the first field tag should be.
  for (int i = 0; i < 16; ++i) bytes[size_t(i)] = char(0xff);
  write_text(dir.file("corrupt.caffemodel"), bytes);
  EXPECT_TRUE(throws_with([&] { load_caffe(googlenet_dir() + "/deploy.prototxt", dir.file("corrupt.caffemodel")); },
                          {"corrupt.caffemodel", "truncated or corrupt"}));
}

TEST(CaffeLoader, MissingFilesAreErrors) {
  EXPECT_TRUE(throws_with([] { load_caffe("/nonexistent/deploy.prototxt", "x.caffemodel"); },
                          {"cannot open", "/nonexistent/deploy.prototxt"}));
  EXPECT_TRUE(throws_with([] { load_caffe(squeezenet_dir() + "/deploy.prototxt", "/nonexistent/w.caffemodel"); },
                          {"cannot open", "/nonexistent/w.caffemodel"}));
}

TEST(CaffeLoader, UnknownLayerTypeNamesLayerAndType) {
  TempDir dir("caffe");
  const std::string text = replace_once(read_text(squeezenet_dir() + "/deploy.prototxt"),
                                        "name: \"relu_conv1\"\n  type: \"ReLU\"",
                                        "name: \"relu_conv1\"\n  type: \"Swish\"");
  write_text(dir.file("deploy.prototxt"), text);
  EXPECT_TRUE(throws_with(
      [&] { load_caffe(dir.file("deploy.prototxt"), squeezenet_dir() + "/squeezenet_v1.1.caffemodel"); },
      {"relu_conv1", "unsupported type 'Swish'"}));
}

TEST(CaffeLoader, SyntaxErrorNamesLineAndColumn) {
  TempDir dir("caffe");
  write_text(dir.file("bad.prototxt"), "name: \"x\"\nlayer {\n  name: \"a\"\n  colour: 3\n}\n");
  EXPECT_TRUE(throws_with([&] { load_caffe(dir.file("bad.prototxt"), "unused.caffemodel"); },
                          {"bad.prototxt:4:", "colour"}));
}

TEST(CaffeLoader, WeightShapeMismatchNamesLayerAndShapes) {
  TempDir dir("caffe");
  const std::string text =
      replace_once(read_text(squeezenet_dir() + "/deploy.prototxt"), "num_output: 64\n    kernel_size: 3",
                   "num_output: 32\n    kernel_size: 3");
  write_text(dir.file("deploy.prototxt"), text);
  EXPECT_TRUE(throws_with(
      [&] { load_caffe(dir.file("deploy.prototxt"), squeezenet_dir() + "/squeezenet_v1.1.caffemodel"); },
      {"'conv1'", "[64, 3, 3, 3]", "[32, 3, 3, 3]"}));
}

TEST(CaffeLoader, LayerWithoutWeightsIsAnError) {
  TempDir dir("caffe");
  const std::string text =
      replace_once(read_text(squeezenet_dir() + "/deploy.prototxt"), "name: \"conv10\"", "name: \"conv10_new\"");
  write_text(dir.file("deploy.prototxt"), text);
  EXPECT_TRUE(throws_with(
      [&] { load_caffe(dir.file("deploy.prototxt"), squeezenet_dir() + "/squeezenet_v1.1.caffemodel"); },
      {"no weights for layer 'conv10_new'"}));
}

TEST(CaffeLoader, UnknownBottomBlobIsAnError) {
  TempDir dir("caffe");
  const std::string text =
      replace_once(read_text(squeezenet_dir() + "/deploy.prototxt"), "bottom: \"conv10\"", "bottom: \"conv11\"");
  write_text(dir.file("deploy.prototxt"), text);
  EXPECT_TRUE(throws_with(
      [&] { load_caffe(dir.file("deploy.prototxt"), squeezenet_dir() + "/squeezenet_v1.1.caffemodel"); },
      {"reads blob 'conv11'"}));
}


// Adds a new-style weight layer with blobs of the given dims holding 0, 1, 2, ... per blob.
void add_weights(caffe::NetParameter& net, const std::string& name, std::vector<std::vector<int64_t>> blobs) {
  auto* l = net.add_layer();
  l->set_name(name);
  for (const auto& dims : blobs) {
    auto* b = l->add_blobs();
    int64_t n = 1;
    for (int64_t d : dims) {
      b->mutable_shape()->add_dim(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) b->add_data(float(i));
  }
}

void save(const caffe::NetParameter& net, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  net.SerializeToOstream(&out);
}

TEST(CaffeLoader, LegacyV1TextPrototxtLikeVgg) {
  // The VGG deploy files use V1 text syntax: `layers { type: CONVOLUTION }`, net-level input_dim.
  TempDir dir("caffe");
  write_text(dir.file("deploy.prototxt"), R"(name: "tiny_vgg"
input: "data"
input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
layers { bottom: "data" top: "conv1" name: "conv1" type: CONVOLUTION
         convolution_param { num_output: 4 pad: 1 kernel_size: 3 } blobs_lr: 1 weight_decay: 1 }
layers { bottom: "conv1" top: "conv1" name: "relu1" type: RELU }
layers { bottom: "conv1" top: "pool1" name: "pool1" type: POOLING
         pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { bottom: "pool1" top: "fc" name: "fc" type: INNER_PRODUCT inner_product_param { num_output: 5 } }
layers { bottom: "fc" top: "prob" name: "prob" type: SOFTMAX }
)");
  caffe::NetParameter w;
  add_weights(w, "conv1", {{4, 3, 3, 3}, {4}});
  add_weights(w, "fc", {{5, 36}, {5}});
  save(w, dir.file("w.caffemodel"));
  // Ceil mode gives a 4x4 pool output (floor would give 3x3): 4 channels * 16 = 64 features,
  // so weights for 36 features (the floor-mode size) must be refused.
  EXPECT_TRUE(throws_with([&] { load_caffe(dir.file("deploy.prototxt"), dir.file("w.caffemodel")); },
                          {"'fc'", "[5, 36]", "[5, 64]"}));
  caffe::NetParameter w2;
  add_weights(w2, "conv1", {{4, 3, 3, 3}, {4}});
  add_weights(w2, "fc", {{5, 64}, {5}});
  save(w2, dir.file("w.caffemodel"));
  const Graph g = load_caffe(dir.file("deploy.prototxt"), dir.file("w.caffemodel"));
  ASSERT_EQ(g.layers.size(), 5u);
  EXPECT_EQ(g.name, "tiny_vgg");
  EXPECT_EQ(g.input_shape, (Shape{1, 3, 8, 8}));
  EXPECT_EQ(g.layers[0].conv.pad_left, 1);
  EXPECT_EQ(g.layers[1].output, "conv1");
  EXPECT_EQ(g.layers[3].weights[0].shape(), (Shape{5, 64, 1, 1}));
  EXPECT_EQ(g.layers[3].weights[0].data()[64 + 3], 67.f);  // row 1, column 3 of [O][K]
  EXPECT_EQ(g.layers[0].weights[1].data()[3], 3.f);
}

TEST(CaffeLoader, SigmoidInNewAndV1Syntax) {
  TempDir dir("caffe");
  const std::string head = "name: \"s\"\ninput: \"data\"\ninput_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\n";
  write_text(dir.file("new.prototxt"), head + R"(layer { name: "sig" type: "Sigmoid" bottom: "data" top: "prob" })");
  write_text(dir.file("v1.prototxt"), head + R"(layers { name: "sig" type: SIGMOID bottom: "data" top: "prob" })");
  caffe::NetParameter w;  // a .caffemodel lists every layer, weightless ones with no blobs
  add_weights(w, "sig", {});
  save(w, dir.file("w.caffemodel"));
  for (const char* f : {"new.prototxt", "v1.prototxt"}) {
    const Graph g = load_caffe(dir.file(f), dir.file("w.caffemodel"));
    ASSERT_EQ(g.layers.size(), 1u) << f;
    EXPECT_EQ(g.layers[0].kind, LayerKind::sigmoid) << f;
    EXPECT_EQ(g.layers[0].output, "prob") << f;
  }
}

TEST(CaffeLoader, BatchNormAndScaleBecomeAffine) {
  TempDir dir("caffe");
  write_text(dir.file("deploy.prototxt"), R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" batch_norm_param { eps: 0.5 } }
layer { name: "sc" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true } }
)");
  caffe::NetParameter w;
  auto* bn = w.add_layer();
  bn->set_name("bn");
  for (std::vector<float> v : {std::vector<float>{2.f, 4.f}, {6.f, 14.f}, {2.f}}) {
    auto* b = bn->add_blobs();
    b->mutable_shape()->add_dim(int64_t(v.size()));
    for (float x : v) b->add_data(x);
  }
  add_weights(w, "sc", {{2}, {2}});
  save(w, dir.file("w.caffemodel"));
  const Graph g = load_caffe(dir.file("deploy.prototxt"), dir.file("w.caffemodel"));
  ASSERT_EQ(g.layers.size(), 2u);
  const LayerDesc& a = g.layers[0];
  EXPECT_EQ(a.kind, LayerKind::affine);
  // Running sums / factor 2: mean = {1, 2}, var = {3, 7}; a = 1/sqrt(var + 0.5), b = -mean a.
  // Tolerance: float rounding of values near 1.
  EXPECT_NEAR(a.weights[0].data()[0], 1.0 / std::sqrt(3.5), 1e-7);
  EXPECT_NEAR(a.weights[0].data()[1], 1.0 / std::sqrt(7.5), 1e-7);
  EXPECT_NEAR(a.weights[1].data()[1], -2.0 / std::sqrt(7.5), 1e-7);
  EXPECT_EQ(g.layers[1].weights[0].data()[1], 1.f);  // Scale: a = blob 0, b = blob 1
  EXPECT_EQ(g.layers[1].weights[1].data()[1], 1.f);
}

// A BatchNorm whose variance is negative, and a NaN or Inf weight, are refused by layer (they
// used to load and turn every output after the layer NaN: `classify` printed -nan and exit 0).
TEST(CaffeLoader, NegativeVarianceAndNonFiniteWeightsAreErrors) {
  TempDir dir("caffe");
  write_text(dir.file("deploy.prototxt"), R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" batch_norm_param { eps: 0.5 } }
layer { name: "sc" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true } }
)");
  auto weights = [&](std::vector<float> var, float scale0) {
    caffe::NetParameter w;
    auto* bn = w.add_layer();
    bn->set_name("bn");
    for (std::vector<float> v : {std::vector<float>{2.f, 4.f}, var, {2.f}}) {
      auto* b = bn->add_blobs();
      b->mutable_shape()->add_dim(int64_t(v.size()));
      for (float x : v) b->add_data(x);
    }
    add_weights(w, "sc", {{2}, {2}});
    w.mutable_layer(1)->mutable_blobs(0)->set_data(0, scale0);
    save(w, dir.file("w.caffemodel"));
    return dir.file("w.caffemodel");
  };
  const std::string proto = dir.file("deploy.prototxt");
  // Running sums / factor 2: variance -3 for channel 1.
  EXPECT_TRUE(throws_with([&] { load_caffe(proto, weights({6.f, -6.f}, 1.f)); },
                          {"layer 'bn'", "variance of channel 1 is -3", "must not be negative"}));
  EXPECT_TRUE(throws_with([&] { load_caffe(proto, weights({6.f, 14.f}, std::nanf(""))); },
                          {"layer 'sc'", "blob 0 element 0 is nan", "finite"}));
  EXPECT_TRUE(throws_with([&] { load_caffe(proto, weights({6.f, 14.f}, -HUGE_VALF)); },
                          {"layer 'sc'", "blob 0 element 0 is -inf"}));
  EXPECT_NO_THROW(load_caffe(proto, weights({6.f, 14.f}, 1.f)));
}

// Dims of 2^31 and more in the prototxt (they used to wrap: 2^32 + 224 read as 224).
TEST(CaffeLoader, DimsBeyondIntAreErrors) {
  TempDir dir("caffe");
  for (const char* dim : {"4294967520", "2147483648"}) {
    write_text(dir.file("deploy.prototxt"),
               std::string(R"(layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: )") +
                   dim + " dim: 4 } } }\n");
    save(caffe::NetParameter(), dir.file("w.caffemodel"));
    EXPECT_TRUE(throws_with([&] { load_caffe(dir.file("deploy.prototxt"), dir.file("w.caffemodel")); },
                            {"input 'data' has dimension", dim}));
  }
}

}  // namespace
}  // namespace cuviz
