// ONNX loader: both shipped models (structure, parameter counts, and weights identical to the
// Caffe files they were exported from), and small models written here through the protobuf API
// for each mapping rule: BatchNorm folding, Gemm/MatMul forms, auto_pad, Reshape, opset rules,
// and a clear cuviz::Error for unsupported operators and broken files.
#include "loaders/onnx_loader.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "loader_test_util.h"
#include "loaders/caffe_loader.h"
#include "loaders/graph_builder.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

// --- building small models ------------------------------------------------------------------

struct ModelBuilder {
  onnx::ModelProto m;
  std::mt19937 rng{1234};

  explicit ModelBuilder(int opset = 13, std::vector<int64_t> input = {1, 3, 8, 8}) {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name("tiny");
    auto* in = g->add_input();
    in->set_name("x");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : input) in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  }
  // A FLOAT initializer with seeded uniform values in [lo, hi); returns its values.
  std::vector<float> init(const std::string& name, std::vector<int64_t> dims, float lo = -1.f, float hi = 1.f) {
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = u(rng);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return v;
  }
  void init_ints(const std::string& name, std::vector<int64_t> values) {
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
  }
  onnx::NodeProto* node(const std::string& op, const std::string& name, std::vector<std::string> in,
                        std::vector<std::string> out) {
    auto* n = m.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  static void ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void i(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void f(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void s(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  void output(const std::string& name) { m.mutable_graph()->add_output()->set_name(name); }
  std::string save(const TempDir& dir, const std::string& file = "model.onnx") const {
    const std::string path = dir.file(file);
    std::ofstream out(path, std::ios::binary);
    m.SerializeToOstream(&out);
    return path;
  }
};

// --- the shipped models -----------------------------------------------------------------------

// Every Caffe layer with weights has an ONNX layer of the same name with bit-identical weights.
void expect_same_weights(const Graph& caffe, const Graph& onnx) {
  int compared = 0;
  for (const auto& l : caffe.layers) {
    if (l.weights.empty()) continue;
    const LayerDesc& o = layer(onnx, l.name);
    ASSERT_EQ(o.kind, l.kind) << l.name;
    ASSERT_EQ(o.weights.size(), l.weights.size()) << l.name;
    for (size_t i = 0; i < l.weights.size(); ++i) {
      ASSERT_EQ(o.weights[i].shape(), l.weights[i].shape()) << l.name;
      double max_diff = 0;
      for (int64_t k = 0; k < l.weights[i].numel(); ++k)
        max_diff = std::max(max_diff, double(std::abs(o.weights[i].data()[k] - l.weights[i].data()[k])));
      EXPECT_EQ(max_diff, 0.0) << l.name << " weight " << i;  // same float32 values, no arithmetic in between
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
}

TEST(OnnxLoader, GoogLeNet) {
  const Graph g = load_onnx(googlenet_dir() + "/bvlc_googlenet.onnx");
  EXPECT_EQ(g.name, "bvlc_googlenet");
  EXPECT_EQ(g.input, "data");
  EXPECT_EQ(g.input_shape, (Shape{1, 3, 224, 224}));
  // One ONNX node per Caffe layer, plus the Flatten that Caffe's InnerProduct does implicitly.
  EXPECT_EQ(g.layers.size(), 143u);
  EXPECT_EQ(count_kind(g, LayerKind::conv), 57);
  EXPECT_EQ(count_kind(g, LayerKind::relu), 57);
  EXPECT_EQ(count_kind(g, LayerKind::pool), 14);
  EXPECT_EQ(count_kind(g, LayerKind::lrn), 2);
  EXPECT_EQ(count_kind(g, LayerKind::concat), 9);
  EXPECT_EQ(count_kind(g, LayerKind::flatten), 1);
  EXPECT_EQ(count_kind(g, LayerKind::linear), 1);
  EXPECT_EQ(graph_parameter_count(g), 6998552);
  const LayerDesc& pool1 = layer(g, "pool1/3x3_s2");
  EXPECT_TRUE(pool1.pool.ceil_mode);
  const LayerDesc& pool5 = layer(g, "pool5/7x7_s1");
  EXPECT_EQ(pool5.pool.mode, PoolMode::average);
  EXPECT_TRUE(pool5.pool.count_include_pad);
  EXPECT_EQ(layer(g, "loss3/classifier").weights[0].shape(), (Shape{1000, 1024, 1, 1}));

  const Graph c = load_caffe(googlenet_dir() + "/deploy.prototxt", googlenet_dir() + "/bvlc_googlenet.caffemodel");
  expect_same_weights(c, g);
}

TEST(OnnxLoader, SqueezeNet) {
  const Graph g = load_onnx(squeezenet_dir() + "/squeezenet_v1.1.onnx");
  EXPECT_EQ(g.input_shape, (Shape{1, 3, 227, 227}));
  EXPECT_EQ(g.layers.size(), 67u);
  EXPECT_EQ(count_kind(g, LayerKind::conv), 26);
  EXPECT_EQ(count_kind(g, LayerKind::concat), 8);
  EXPECT_EQ(graph_parameter_count(g), 1235496);
  EXPECT_TRUE(layer(g, "pool10").pool.global);
  const Graph c =
      load_caffe(squeezenet_dir() + "/deploy.prototxt", squeezenet_dir() + "/squeezenet_v1.1.caffemodel");
  expect_same_weights(c, g);
}

TEST(OnnxLoader, TruncatedFileIsAnError) {
  TempDir dir("onnx");
  const std::string src = squeezenet_dir() + "/squeezenet_v1.1.onnx";
  const std::string dst = dir.file("cut.onnx");
  std::filesystem::copy_file(src, dst);
  std::filesystem::resize_file(dst, std::filesystem::file_size(src) / 3);
  EXPECT_TRUE(throws_with([&] { load_onnx(dst); }, {"cut.onnx", "truncated or corrupt"}));
  EXPECT_TRUE(throws_with([] { load_onnx("/nonexistent/m.onnx"); }, {"cannot open", "/nonexistent/m.onnx"}));
}

// --- mapping rules on small models ------------------------------------------------------------

TEST(OnnxLoader, UnsupportedOperatorNamesNodeAndOp) {
  TempDir dir("onnx");
  ModelBuilder b;
  b.node("Relu", "r", {"x"}, {"y"});
  b.node("HardSwish", "swish1", {"y"}, {"z"});
  b.output("z");
  EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir)); }, {"node 'swish1'", "unsupported operator 'HardSwish'"}));
}

TEST(OnnxLoader, SigmoidBecomesASigmoidLayer) {
  TempDir dir("onnx");
  ModelBuilder b;
  b.node("Relu", "r", {"x"}, {"y"});
  b.node("Sigmoid", "sig", {"y"}, {"z"});
  b.output("z");
  const Graph g = load_onnx(b.save(dir));
  ASSERT_EQ(g.layers.size(), 2u);
  EXPECT_EQ(g.layers[1].kind, LayerKind::sigmoid);
  EXPECT_EQ(g.layers[1].name, "sig");
  EXPECT_EQ(g.layers[1].inputs, std::vector<std::string>{"y"});
  EXPECT_EQ(g.layers[1].output, "z");
}

TEST(OnnxLoader, OpsetOutsideRangeIsAnError) {
  TempDir dir("onnx");
  ModelBuilder b(6);
  b.node("Relu", "r", {"x"}, {"y"});
  EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir)); }, {"opset 6"}));
}

TEST(OnnxLoader, ConvWeightChannelMismatchNamesNodeAndShapes) {
  TempDir dir("onnx");
  ModelBuilder b;
  b.init("w", {4, 5, 3, 3});
  b.node("Conv", "conv_a", {"x", "w"}, {"y"});
  EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir)); }, {"'conv_a'", "[4, 5, 3, 3]", "[1, 3, 8, 8]"}));
}

TEST(OnnxLoader, BatchNormFoldsIntoSoleConvAndOtherwiseBecomesAffine) {
  TempDir dir("onnx");
  ModelBuilder b;
  const auto w = b.init("w", {4, 3, 3, 3});
  const auto bias = b.init("b", {4});
  const auto scale = b.init("s", {4}, 0.5f, 2.f);
  const auto beta = b.init("beta", {4});
  const auto mean = b.init("mean", {4});
  const auto var = b.init("var", {4}, 0.1f, 2.f);
  b.node("Conv", "conv", {"x", "w", "b"}, {"c"});
  auto* bn = b.node("BatchNormalization", "bn", {"c", "s", "beta", "mean", "var"}, {"y"});
  ModelBuilder::f(bn, "epsilon", 1e-3f);
  b.node("Relu", "relu", {"y"}, {"r"});
  // A second BN after a ReLU cannot fold: it becomes an affine layer.
  b.node("BatchNormalization", "bn2", {"r", "s", "beta", "mean", "var"}, {"z"});
  b.output("z");
  const Graph g = load_onnx(b.save(dir));
  ASSERT_EQ(g.layers.size(), 3u);
  const LayerDesc& conv = g.layers[0];
  EXPECT_EQ(conv.output, "y");  // the folded BN's output names the conv's result
  EXPECT_EQ(g.layers[1].inputs[0], "y");
  for (int o = 0; o < 4; ++o) {
    const double a = scale[o] / std::sqrt(double(var[o]) + 1e-3);
    // Tolerance: one float rounding of the product (relative 2^-24) on values of magnitude <= 10.
    for (int k = 0; k < 27; ++k) EXPECT_NEAR(conv.weights[0].data()[o * 27 + k], a * w[o * 27 + k], 1e-6);
    EXPECT_NEAR(conv.weights[1].data()[o], a * (bias[o] - mean[o]) + beta[o], 1e-6);
  }
  const LayerDesc& affine = g.layers[2];
  EXPECT_EQ(affine.kind, LayerKind::affine);
  EXPECT_EQ(affine.name, "bn2");
  for (int c = 0; c < 4; ++c) {
    const double a = scale[c] / std::sqrt(double(var[c]) + 1e-5);  // default epsilon
    EXPECT_NEAR(affine.weights[0].data()[c], a, 1e-6);
    EXPECT_NEAR(affine.weights[1].data()[c], beta[c] - a * mean[c], 1e-6);
  }
}

TEST(OnnxLoader, GemmWithoutTransposeAndMatMulPlusAdd) {
  TempDir dir("onnx");
  ModelBuilder b(13, {2, 6, 1, 1});  // a batch of two 6-feature vectors, NCHW
  const auto w1 = b.init("w1", {6, 5});  // [K, O]: transB = 0
  const auto c1 = b.init("c1", {5});
  auto* gemm = b.node("Gemm", "fc1", {"x", "w1", "c1"}, {"h"});
  ModelBuilder::f(gemm, "alpha", 0.5f);
  ModelBuilder::f(gemm, "beta", 2.f);
  const auto w2 = b.init("w2", {5, 3});
  const auto c2 = b.init("c2", {3});
  b.node("MatMul", "fc2", {"h", "w2"}, {"m"});
  b.node("Add", "fc2_bias", {"m", "c2"}, {"out"});
  b.output("out");
  const Graph g = load_onnx(b.save(dir));
  ASSERT_EQ(g.layers.size(), 2u);
  const LayerDesc& fc1 = g.layers[0];
  ASSERT_EQ(fc1.weights[0].shape(), (Shape{5, 6, 1, 1}));
  for (int o = 0; o < 5; ++o) {
    for (int k = 0; k < 6; ++k) EXPECT_EQ(fc1.weights[0].data()[o * 6 + k], 0.5f * w1[size_t(k * 5 + o)]);
    EXPECT_EQ(fc1.weights[1].data()[o], 2.f * c1[size_t(o)]);
  }
  const LayerDesc& fc2 = g.layers[1];
  EXPECT_EQ(fc2.output, "out");  // the Add became fc2's bias
  ASSERT_EQ(fc2.weights.size(), 2u);
  for (int o = 0; o < 3; ++o) {
    for (int k = 0; k < 5; ++k) EXPECT_EQ(fc2.weights[0].data()[o * 5 + k], w2[size_t(k * 3 + o)]);
    EXPECT_EQ(fc2.weights[1].data()[o], c2[size_t(o)]);
  }
}

TEST(OnnxLoader, AutoPadSameUpperLowerAndValid) {
  TempDir dir("onnx");
  ModelBuilder b;
  b.init("w", {2, 3, 3, 3});
  auto* c1 = b.node("Conv", "upper", {"x", "w"}, {"a"});
  ModelBuilder::s(c1, "auto_pad", "SAME_UPPER");
  ModelBuilder::ints(c1, "strides", {2, 2});
  auto* p = b.node("MaxPool", "lower", {"a"}, {"p"});
  ModelBuilder::s(p, "auto_pad", "SAME_LOWER");
  ModelBuilder::ints(p, "kernel_shape", {2, 2});
  auto* v = b.node("AveragePool", "valid", {"p"}, {"v"});
  ModelBuilder::s(v, "auto_pad", "VALID");
  ModelBuilder::ints(v, "kernel_shape", {3, 3});
  ModelBuilder::ints(v, "pads", {1, 1, 1, 1});  // ignored under VALID
  const Graph g = load_onnx(b.save(dir));
  // 8 -> ceil(8/2) = 4 outputs need (4-1)*2 + 3 - 8 = 1 pad row: SAME_UPPER puts it at the end.
  EXPECT_EQ(g.layers[0].conv.pad_top, 0);
  EXPECT_EQ(g.layers[0].conv.pad_bottom, 1);
  EXPECT_EQ(g.layers[0].conv.pad_right, 1);
  // 4 -> 4 outputs with a 2-wide kernel need 1 pad: SAME_LOWER puts it at the start.
  EXPECT_EQ(g.layers[1].pool.pad_top, 1);
  EXPECT_EQ(g.layers[1].pool.pad_bottom, 0);
  EXPECT_EQ(g.layers[2].pool.pad_left, 0);
  EXPECT_FALSE(g.layers[2].pool.count_include_pad);  // ONNX default
}

TEST(OnnxLoader, ReshapeToTwoDimsIsFlattenOtherwiseAnError) {
  TempDir dir("onnx");
  {
    ModelBuilder b;
    b.init_ints("shape", {1, -1});
    b.node("Reshape", "flat", {"x", "shape"}, {"y"});
    b.init("w", {10, 192});
    auto* gemm = b.node("Gemm", "fc", {"y", "w"}, {"z"});
    ModelBuilder::i(gemm, "transB", 1);
    const Graph g = load_onnx(b.save(dir));
    ASSERT_EQ(g.layers.size(), 2u);
    EXPECT_EQ(g.layers[0].kind, LayerKind::flatten);
  }
  {
    ModelBuilder b;
    b.init_ints("shape", {1, 3, 64});
    b.node("Reshape", "to3d", {"x", "shape"}, {"y"});
    EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir, "bad.onnx")); }, {"'to3d'", "only to 2-D"}));
  }
}

TEST(OnnxLoader, SoftmaxAxisFollowsTheOpset) {
  TempDir dir("onnx");
  {
    ModelBuilder b(13);
    auto* s = b.node("Softmax", "sm", {"x"}, {"y"});
    ModelBuilder::i(s, "axis", 1);
    EXPECT_EQ(load_onnx(b.save(dir, "a.onnx")).layers[0].kind, LayerKind::softmax);
  }
  {
    // Opset 11 flattens from axis 1 on: over C*H*W, not a channel softmax on an 8x8 map.
    ModelBuilder b(11);
    b.node("Softmax", "sm", {"x"}, {"y"});
    EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir, "b.onnx")); }, {"'sm'", "opset 11"}));
  }
  {
    // Opset 13's default axis is the last one: the width of an image.
    ModelBuilder b(13);
    b.node("Softmax", "sm", {"x"}, {"y"});
    EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir, "c.onnx")); }, {"'sm'", "not a softmax over channels"}));
  }
}

TEST(OnnxLoader, ConstantNodeWeightsAndIdentity) {
  TempDir dir("onnx");
  ModelBuilder b;
  auto* k = b.node("Constant", "wconst", {}, {"w"});
  auto* a = k->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  auto* t = a->mutable_t();
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {2, 3, 1, 1}) t->add_dims(d);
  for (int i = 0; i < 6; ++i) t->add_float_data(float(i));
  b.node("Conv", "conv", {"x", "w"}, {"c"});
  b.node("Identity", "id", {"c"}, {"y"});
  const Graph g = load_onnx(b.save(dir));
  ASSERT_EQ(g.layers.size(), 2u);
  EXPECT_EQ(g.layers[0].weights[0].data()[5], 5.f);
  EXPECT_EQ(g.layers[1].kind, LayerKind::dropout);  // identity at inference
}

// A Reshape target whose entries multiply past int64 (signed overflow, found by onnx_fuzz) is
// one error naming the node.
TEST(OnnxLoader, ReshapeTargetProductOverflowIsAnError) {
  TempDir dir("onnx");
  ModelBuilder b;
  b.init_ints("shape", {984036518580453377, -246, 1});
  b.node("Reshape", "flat", {"x", "shape"}, {"y"});
  EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir)); }, {"'flat'", "more than 2147483648 elements"}));
}

// A node without inputs or outputs is one error (reading its first input was undefined
// behaviour, found by onnx_fuzz).
TEST(OnnxLoader, NodeWithoutInputOrOutputIsAnError) {
  TempDir dir("onnx");
  {
    ModelBuilder b;
    b.node("MaxPool", "pool", {}, {"y"});
    EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir)); }, {"'pool'", "node has no input"}));
  }
  {
    ModelBuilder b;
    b.node("Relu", "relu", {"x"}, {});
    EXPECT_TRUE(throws_with([&] { load_onnx(b.save(dir, "b.onnx")); }, {"'relu'", "node has no output"}));
  }
}

}  // namespace
}  // namespace cuviz
