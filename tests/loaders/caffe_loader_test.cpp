// Caffe loader: both shipped models (GoogLeNet: legacy V1 caffemodel; SqueezeNet: new-style),
// their structure, weight shapes and parameter counts, and a clear cuviz::Error for every kind
// of broken input (truncated or corrupt weights, unknown layer types, shape mismatches).
#include "loaders/caffe_loader.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "loader_test_util.h"
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

}  // namespace
}  // namespace cuviz
