// The bad-input table of docs/errors.md, checked case by case through the real `cuviz` binary.
// Each case builds its hostile input in a fresh folder (a corrupt, truncated or empty model,
// a file of the wrong format, an absurd header, a bad option, an unwritable path), runs one
// command there and requires:
//   - exactly one stderr line `cuviz: error: <message>` and nothing on stdout;
//   - the exit code of the case (2 for a usage error, 1 for a failure while running);
//   - the message of the doc's row, exactly (paths shown relative to the case's folder, the
//     shared weights folder as <shared>), and a phrase fixed here so that a regenerated doc
//     cannot silently turn a clear message into a vague one;
//   - no file left behind: the folder holds afterwards what it held before (no output, no
//     partial output, no temporary file).
// The doc's table must list exactly these cases. After a deliberate change of a message, run
// this test with CUVIZ_UPDATE_ERRORS_DOC=1 to rewrite the table from the messages cuviz gives,
// and review the diff.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "apps/run_cli.h"
#include "test_util.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::TempDir;

// ---- inputs ---------------------------------------------------------------------------------

void put(const TempDir& d, const std::string& name, const std::string& bytes) {
  fs::create_directories(fs::path(d.file(name)).parent_path());
  std::ofstream(d.file(name), std::ios::binary | std::ios::trunc) << bytes;
}
std::string shared(const std::string& rel) { return std::string(CUVIZ_SHARED_DIR) + "/" + rel; }
std::string head(const std::string& path, size_t n) { return test::read_text(path).substr(0, n); }

// A .npy file with the given header dict (padded as NumPy does) and `data_bytes` zero bytes.
std::string npy(const std::string& dict, size_t data_bytes) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += char(h.size() & 0xff);
  out += char(h.size() >> 8);
  return out + h + std::string(data_bytes, '\0');
}

// A one-node ONNX model (opset 13): input x [1, C, 8, 8], then `op` with weights `w`.
struct TinyOnnx {
  onnx::ModelProto m;
  explicit TinyOnnx(int64_t channels = 3, int64_t height = 8, int opset = 13) {
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name("tiny");
    auto* in = g->add_input();
    in->set_name("x");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {int64_t(1), channels, height, int64_t(8)})
      in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
    g->add_output()->set_name("y");
  }
  onnx::TensorProto* init(const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return t;
  }
  void node(const std::string& op, const std::string& name, std::vector<std::string> in) {
    auto* n = m.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& s : in) n->add_input(s);
    n->add_output("y");
  }
  std::string bytes() const { return m.SerializeAsString(); }
};

// A conv model whose weight element 40 is `bad`.
std::string conv_with(float bad) {
  TinyOnnx t;
  std::vector<float> w(4 * 3 * 3 * 3, 0.5f);
  w[40] = bad;
  t.init("w", {4, 3, 3, 3}, w);
  t.node("Conv", "conv", {"x", "w"});
  return t.bytes();
}
// A conv (or Gemm) model whose weights are stored as integers.
std::string int_weights(const std::string& op, onnx::TensorProto::DataType type) {
  TinyOnnx t(op == "Gemm" ? 6 : 3, op == "Gemm" ? 1 : 8);
  auto* w = t.m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(type);
  const std::vector<int64_t> dims = op == "Gemm" ? std::vector<int64_t>{6, 5} : std::vector<int64_t>{4, 3, 3, 3};
  int64_t n = 1;
  for (int64_t d : dims) {
    w->add_dims(d);
    n *= d;
  }
  for (int64_t i = 0; i < n; ++i) type == onnx::TensorProto::INT64 ? w->add_int64_data(1) : w->add_int32_data(1);
  t.node(op, op == "Gemm" ? "fc" : "conv", {"x", "w"});
  return t.bytes();
}
std::string batchnorm_negative_variance() {
  TinyOnnx t;
  t.init("s", {3}, {1, 1, 1});
  t.init("b", {3}, {0, 0, 0});
  t.init("m", {3}, {0, 0, 0});
  t.init("v", {3}, {1, -2, 1});
  t.node("BatchNormalization", "bn", {"x", "s", "b", "m", "v"});
  return t.bytes();
}

// A PNG signature and an IHDR chunk claiming width x height (no pixel data follows).
std::string png_header(uint32_t width, uint32_t height) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string s("\x89PNG\r\n\x1a\n", 8);
  s += be32(13) + "IHDR" + be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5) + be32(0);
  return s + std::string(64, '\0');
}

// ---- the cases ------------------------------------------------------------------------------

struct Case {
  std::string id;       // the row's name in docs/errors.md
  std::string input;    // what is wrong, in words
  std::function<void(const TempDir&)> setup;
  std::vector<std::string> args;  // "@" stands for the --model-dir option pair of the shared weights
  int code;                       // 2 usage error, 1 failure while running
  std::string phrase;             // must appear in the message whatever the doc says
};

const std::string kObjective = "inception_4a/output:1";

std::vector<Case> cases() {
  auto nothing = [](const TempDir&) {};
  auto file = [](std::string name, std::function<std::string()> bytes) {
    return [name, bytes](const TempDir& d) { put(d, name, bytes()); };
  };
  auto text = [&](std::string name, std::string body) { return file(name, [body] { return body; }); };
  // A Caffe pair: `prototxt` text beside a link to (or a truncated copy of) GoogLeNet's weights.
  auto caffe = [](std::string prototxt, size_t caffemodel_bytes = 0) {
    return [prototxt, caffemodel_bytes](const TempDir& d) {
      put(d, "net/deploy.prototxt", prototxt);
      const std::string weights = shared("weights/bvlc_googlenet/bvlc_googlenet.caffemodel");
      if (caffemodel_bytes)
        put(d, "net/net.caffemodel", head(weights, caffemodel_bytes));
      else
        fs::create_symlink(weights, d.file("net/net.caffemodel"));
    };
  };
  auto googlenet_prototxt = [] { return test::read_text(shared("weights/bvlc_googlenet/deploy.prototxt")); };
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  // Options of the render cases that are not about --size or --steps keep any run short.
  const std::vector<std::string> render = {"render", "googlenet", "@", "--device", "cpu", "-q"};
  const std::vector<std::string> small = {"--size", "32", "--steps", "1"};
  auto with = [](std::vector<std::string> a, std::vector<std::string> extra) {
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<std::string> forward = {"forward", "googlenet", "@", "--device", "cpu"};
  const std::vector<std::string> classify = {"classify", "googlenet", "@", "--device", "cpu"};
  const std::vector<std::string> sweep = {"sweep", "googlenet", "@", "--device", "cpu", "--size", "32", "--steps", "1",
                                          "--layer", "inception_4a/output", "-q"};
  // The method commands, kept short for the cases that get as far as the work.
  const std::vector<std::string> invert = {"invert", "googlenet", "@", "--device", "cpu", "-q", "--size", "32", "--steps", "1"};
  const std::vector<std::string> style = {"style", "googlenet", "@", "--device", "cpu", "-q", "--size", "32", "--iters", "1"};
  const std::vector<std::string> attribute = {"attribute", "googlenet", "@", "--device", "cpu", "-q"};
  const std::vector<std::string> groups = {"groups", "googlenet", "@", "--device", "cpu", "-q", "--size", "32", "--steps", "1"};
  const std::vector<std::string> grid = {"grid", "googlenet", "@", "--device", "cpu", "-q", "--size", "16", "--steps", "1"};
  const std::vector<std::string> facets = {"facets", "googlenet", "@", "--device", "cpu", "-q", "--size", "32", "--steps", "1"};
  const std::vector<std::string> trace = {"trace", "googlenet", "@", "--device", "cpu", "--noise", "--size", "32"};
  const std::vector<std::string> classviz = {"classviz", "googlenet", "@", "--device", "cpu", "-q", "--steps", "1"};
  const std::vector<std::string> dream = {"dream", "googlenet", "@", "--device", "cpu", "-q", "--octaves", "1", "--iters", "1"};
  const std::vector<std::string> fool = {"fool", "googlenet", "@", "--device", "cpu", "-q", "--max-steps", "1"};
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  return {
      // --- model files ---
      {"model-empty-onnx", "empty .onnx file", text("m.onnx", ""), {"info", "m.onnx"}, 1, "holds no graph nodes"},
      {"model-truncated-onnx", "ONNX file cut after 1000 bytes",
       file("m.onnx", [] { return head(shared("weights/squeezenet_v1.1/squeezenet_v1.1.onnx"), 1000); }),
       {"info", "m.onnx"}, 1, "truncated or corrupt"},
      {"model-text-as-onnx", "a text file named .onnx", text("m.onnx", "hello, I am not a model\n"), {"info", "m.onnx"},
       1, "m.onnx"},
      {"model-int32-conv-weights", "ONNX Conv weights stored as INT32", file("m.onnx", [&] { return int_weights("Conv", onnx::TensorProto::INT32); }),
       {"info", "m.onnx"}, 1, "weights must be FLOAT"},
      {"model-int64-gemm-weights", "ONNX Gemm weights stored as INT64", file("m.onnx", [&] { return int_weights("Gemm", onnx::TensorProto::INT64); }),
       {"info", "m.onnx"}, 1, "weights must be FLOAT"},
      {"model-nan-weight", "a NaN among the weights", file("m.onnx", [] { return conv_with(std::nanf("")); }),
       {"info", "m.onnx"}, 1, "tensor 'w' element 40 is nan"},
      {"model-inf-weight", "an Inf among the weights",
       file("m.onnx", [] { return conv_with(std::numeric_limits<float>::infinity()); }), {"info", "m.onnx"}, 1,
       "tensor 'w' element 40 is inf"},
      {"model-negative-variance", "BatchNormalization with a negative variance", file("m.onnx", batchnorm_negative_variance),
       {"info", "m.onnx"}, 1, "variance must not be negative"},
      {"model-onnx-dim-2^32", "ONNX input dimension 2^32 + 8", file("m.onnx",
            [] {
              TinyOnnx t(3, (int64_t(1) << 32) + 8);
              t.node("Relu", "relu", {"x"});
              return t.bytes();
            }),
       {"info", "m.onnx"}, 1, "has dimension 4294967304"},
      {"model-onnx-dims-overflow", "ONNX weight dims whose product overflows int64",
       file("m.onnx",
            [] {
              TinyOnnx t;
              auto* w = t.init("w", {}, {});
              for (int64_t d : {int64_t(1) << 40, int64_t(1) << 40, int64_t(1), int64_t(1)}) w->add_dims(d);
              t.node("Conv", "conv", {"x", "w"});
              return t.bytes();
            }),
       {"info", "m.onnx"}, 1, "more than 2147483648 elements"},
      {"model-onnx-unknown-op", "an ONNX operator cuviz does not have",
       file("m.onnx",
            [] {
              TinyOnnx t;
              t.node("LSTM", "rnn", {"x"});
              return t.bytes();
            }),
       {"info", "m.onnx"}, 1, "LSTM"},
      {"model-onnx-old-opset", "ONNX opset 3", file("m.onnx", [] {
         TinyOnnx t(3, 8, 3);
         t.node("Relu", "relu", {"x"});
         return t.bytes();
       }),
       {"info", "m.onnx"}, 1, "opset 3"},
      {"model-unknown-extension", "a model file with an unknown extension", text("m.bin", "x"), {"info", "m.bin"}, 1,
       "m.bin"},
      {"model-missing-file", "a model path that does not exist", nothing, {"info", "absent.onnx"}, 1, "absent.onnx"},
      {"model-unknown-name", "a model name that is not known", nothing, {"info", "googlenett", "@"}, 1, "googlenett"},
      {"model-prototxt-dim-2^32", "prototxt input dim 2^32 + 224",
       caffe(replace(googlenet_prototxt(), "dim: 224", "dim: 4294967520")), {"info", "net/deploy.prototxt"}, 1,
       "has dimension 4294967520"},
      {"model-prototxt-syntax", "prototxt with a syntax error", caffe("name: \"x\"\nlayer { name: \n"),
       {"info", "net/deploy.prototxt"}, 1, "deploy.prototxt"},
      {"model-prototxt-empty", "empty prototxt", caffe(""), {"info", "net/deploy.prototxt"}, 1, "no input declared"},
      {"model-prototxt-unknown-layer", "prototxt with an unknown layer type",
       caffe(replace(googlenet_prototxt(), "type: \"LRN\"", "type: \"Warp\"")), {"info", "net/deploy.prototxt"}, 1,
       "unsupported type 'Warp'"},
      {"model-caffemodel-truncated", "caffemodel cut after 4096 bytes", caffe(googlenet_prototxt(), 4096),
       {"info", "net/deploy.prototxt"}, 1, "net.caffemodel"},
      {"model-safetensors-empty", "empty .safetensors file", text("m.safetensors", ""), {"info", "m.safetensors"}, 1,
       "m.safetensors"},
      {"model-safetensors-header-length", "safetensors header length of 2^60",
       text("m.safetensors", std::string("\x00\x00\x00\x00\x00\x00\x00\x10{}", 10)), {"info", "m.safetensors"}, 1,
       "m.safetensors"},
      {"model-safetensors-huge-tensor", "safetensors header claiming 10^12 floats",
       text("m.safetensors",
            [] {
              const std::string h = R"({"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}})";
              std::string s(8, '\0');
              for (int i = 0; i < 8; ++i) s[size_t(i)] = char((h.size() >> (8 * i)) & 0xff);
              return s + h;
            }()),
       {"info", "m.safetensors"}, 1, "m.safetensors"},
      // --- images ---
      {"image-empty", "empty .png", text("a.png", ""), with(classify, {"a.png"}), 1, "the file is empty"},
      {"image-garbage-tga", "17 bytes stb_image would decode as a TGA",
       text("a.png", std::string("\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x07\x07\x80\x18", 17)),
       with(classify, {"a.png"}), 1, "not a PNG or JPEG file"},
      {"image-text-as-jpeg", "a text file named .jpg", text("a.jpg", "not an image\n"), with(classify, {"a.jpg"}), 1,
       "not a PNG or JPEG file"},
      {"image-truncated-png", "PNG cut after 100 bytes",
       file("a.png", [] { return head(shared("images/chelsea.png"), 100); }), with(classify, {"a.png"}), 1, "a.png"},
      {"image-absurd-png-header", "PNG header claiming 100000 x 100000 pixels", file("a.png", [] { return png_header(100000, 100000); }),
       with(classify, {"a.png"}), 1, "a.png"},
      {"image-missing", "an image that does not exist", nothing, with(classify, {"absent.png"}), 1, "absent.png"},
      // --- .npy ---
      {"npy-huge-shape", ".npy claiming 2^32 + 3 elements in 16 bytes",
       text("x.npy", npy(dict + "(1, 4294967299, 1, 1), }", 16)),
       with(forward, {"--input", "x.npy", "--layer", "conv1/7x7_s2", "--out", "y.npy"}), 1, "more than 2147483648 elements"},
      {"npy-dim-23-digits", ".npy with a 23-digit dimension", text("x.npy", npy(dict + "(99999999999999999999999,), }", 0)),
       with(forward, {"--input", "x.npy", "--layer", "conv1/7x7_s2", "--out", "y.npy"}), 1, "more than 18 digits"},
      {"npy-dims-overflow", ".npy dims whose product overflows int64",
       text("x.npy", npy(dict + "(999999999999999999, 999999999999999999), }", 0)),
       with(forward, {"--input", "x.npy", "--layer", "conv1/7x7_s2", "--out", "y.npy"}), 1, "more than 2147483648 elements"},
      {"npy-truncated", ".npy with half its data", text("x.npy", npy(dict + "(1, 3, 224, 224), }", 3 * 224 * 224 * 2)),
       with(forward, {"--input", "x.npy", "--layer", "conv1/7x7_s2", "--out", "y.npy"}), 1, "truncated data"},
      {"npy-float64", ".npy of float64", text("x.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 2, 2), }", 96)),
       with(forward, {"--input", "x.npy", "--layer", "conv1/7x7_s2", "--out", "y.npy"}), 1, "'<f8' is not supported"},
      {"npy-bad-magic", "a text file named .npy", text("x.npy", "1 2 3\n"),
       with(forward, {"--input", "x.npy", "--layer", "conv1/7x7_s2", "--out", "y.npy"}), 1, "bad magic"},
      // --- names and options ---
      {"forward-unknown-layer", "forward --layer that the model lacks", nothing,
       with(forward, {"--input", shared("images/chelsea.png"), "--layer", "conv9", "--out", "y.npy"}), 1, "conv9"},
      {"render-unknown-layer", "an objective on a layer the model lacks", nothing,
       with(with(render, small), {"--objective", "inception_9z/output:1", "-o", "r.png"}), 1, "inception_9z/output"},
      {"render-channel-out-of-range", "channel 9999 of a 512-channel layer", nothing,
       with(with(render, small), {"--objective", "inception_4a/output:9999", "-o", "r.png"}), 1, "9999"},
      {"render-objective-syntax", "an objective that does not parse", nothing,
       with(render, {"--objective", "inception_4a/output:", "-o", "r.png"}), 2, "expected a channel number"},
      {"render-objective-nested", "an objective nested in 10,000 parentheses", nothing,
       with(render, {"--objective", std::string(10000, '(') + kObjective + std::string(10000, ')'), "-o", "r.png"}), 2,
       "nested more than 256 levels"},
      {"render-objective-signs", "an objective after 120,000 '-' signs", nothing,
       with(render, {"--objective", std::string(120000, '-') + kObjective, "-o", "r.png"}), 2, "nested more than 256 levels"},
      {"render-objective-terms", "an objective of 5,000 terms", nothing,
       with(render,
            {"--objective",
             [] {
               std::string s = kObjective;
               for (int i = 0; i < 5000; ++i) s += "+" + kObjective;
               return s;
             }(),
             "-o", "r.png"}),
       2, "more than 4096 operators"},
      {"render-size-zero", "--size 0", nothing, with(render, {"--objective", kObjective, "--size", "0", "-o", "r.png"}), 2,
       "--size"},
      {"render-steps-zero", "--steps 0", nothing, with(render, {"--objective", kObjective, "--steps", "0", "-o", "r.png"}),
       2, "--steps"},
      {"render-steps-text", "--steps ten", nothing, with(render, {"--objective", kObjective, "--steps", "ten", "-o", "r.png"}),
       2, "--steps"},
      {"render-batch-zero", "--batch 0", nothing, with(render, {"--objective", kObjective, "--batch", "0", "-o", "r.png"}), 2,
       "--batch"},
      {"render-lr-negative", "--lr -1", nothing, with(render, {"--objective", kObjective, "--lr", "-1", "-o", "r.png"}), 2,
       "--lr"},
      {"sweep-channels-empty", "sweep --channels \"\"", nothing, with(sweep, {"--channels", "", "-o", "s"}), 2,
       "channel list ''"},
      {"sweep-channels-reversed", "sweep --channels 5-2", nothing, with(sweep, {"--channels", "5-2", "-o", "s"}), 2, "5-2"},
      {"sweep-channels-out-of-range", "sweep --channels 9999 of a 512-channel layer", nothing,
       with(sweep, {"--channels", "9999", "-o", "s"}), 1, "9999"},
      {"classviz-unknown-class", "classviz --class flamingoo", nothing,
       {"classviz", "googlenet", "@", "--device", "cpu", "--class", "flamingoo", "-o", "c.png", "-q"}, 1, "flamingoo"},
      // --- the method commands (invert, style, attribute, groups, grid, facets, trace, classviz,
      // dream, fool): a bad layer, method, k or class, an unreadable image, an unwritable output,
      // bad numeric options; each fails before its work starts ---
      {"invert-unknown-layer", "invert --layer that the model lacks", nothing,
       with(invert, {shared("images/chelsea.png"), "--layer", "conv9", "-o", "i.png"}), 1, "conv9"},
      {"invert-unreadable-image", "invert of a file that is not an image", text("a.png", "junk"),
       with(invert, {"a.png", "--layer", "conv2/3x3", "-o", "i.png"}), 1, "not a PNG or JPEG file"},
      {"invert-unwritable-output", "invert -o into a folder that does not exist", nothing,
       with(invert, {shared("images/chelsea.png"), "--layer", "conv2/3x3", "-o", "no/such/i.png"}), 1,
       "does not exist"},
      {"invert-alpha-zero", "invert --alpha 0", nothing,
       with(invert, {shared("images/chelsea.png"), "--layer", "conv2/3x3", "--alpha", "0", "-o", "i.png"}), 2,
       "--alpha"},
      {"style-unreadable-content", "style --content that is not an image", text("a.png", "junk"),
       with(style, {"--content", "a.png", "--style", shared("images/chelsea.png"), "-o", "s.png"}), 1, "a.png"},
      {"style-unknown-layer", "style --style-layers naming a layer the model lacks", nothing,
       with(style, {"--content", shared("images/chelsea.png"), "--style", shared("images/chelsea.png"),
                    "--style-layers", "conv1/7x7_s2,zz", "-o", "s.png"}),
       1, "'zz'"},
      {"style-weights-text", "style --style-layer-weights with a word", nothing,
       with(style, {"--content", shared("images/chelsea.png"), "--style", shared("images/chelsea.png"),
                    "--style-layer-weights", "1,x", "-o", "s.png"}),
       1, "'x' is not a number"},
      {"style-unwritable-output", "style -o into a folder that does not exist", nothing,
       with(style, {"--content", shared("images/chelsea.png"), "--style", shared("images/chelsea.png"), "-o",
                    "no/such/s.png"}),
       1, "does not exist"},
      {"attribute-unknown-method", "attribute --method that does not exist", nothing,
       with(attribute, {shared("images/chelsea.png"), "--method", "magic", "-o", "a.png"}), 2, "unknown method 'magic'"},
      {"attribute-unknown-class", "attribute --target with a misspelt class", nothing,
       with(attribute, {shared("images/chelsea.png"), "--method", "gradient", "--target", "flamingoo", "-o", "a.png"}),
       2, "flamingo"},
      {"attribute-class-out-of-range", "attribute --target 5000 of 1000 classes", nothing,
       with(attribute, {shared("images/chelsea.png"), "--method", "gradient", "--target", "5000", "-o", "a.png"}), 2,
       "5000"},
      {"attribute-unknown-layer", "attribute --method grad_cam --layer that the model lacks", nothing,
       with(attribute, {shared("images/chelsea.png"), "--method", "grad_cam", "--layer", "conv9", "-o", "a.png"}), 1,
       "conv9"},
      {"attribute-unknown-rule", "attribute --method lrp --rule that does not exist", nothing,
       with(attribute, {shared("images/chelsea.png"), "--method", "lrp", "--rule", "zz", "-o", "a.png"}), 2, "'zz'"},
      {"attribute-unreadable-image", "attribute of a file that is not an image", text("a.png", "junk"),
       with(attribute, {"a.png", "--method", "gradient", "-o", "m.png"}), 1, "not a PNG or JPEG file"},
      {"attribute-unwritable-output", "attribute -o into a folder that does not exist", nothing,
       with(attribute, {shared("images/chelsea.png"), "--method", "gradient", "-o", "no/such/a.png"}), 1,
       "does not exist"},
      {"attribute-noise-nan", "attribute --method smoothgrad --noise nan", nothing,
       with(attribute, {shared("images/chelsea.png"), "--method", "smoothgrad", "--noise", "nan", "-o", "a.png"}), 2,
       "--noise"},
      {"groups-unknown-layer", "groups --layer that the model lacks", nothing,
       with(groups, {shared("images/chelsea.png"), "--layer", "conv9", "-o", "g"}), 1, "conv9"},
      {"groups-k-zero", "groups --k 0", nothing, with(groups, {shared("images/chelsea.png"), "--k", "0", "-o", "g"}), 2,
       "--k"},
      {"groups-unreadable-image", "groups of a file that is not an image", text("a.png", "junk"),
       with(groups, {"a.png", "-o", "g"}), 1, "not a PNG or JPEG file"},
      {"groups-output-is-file", "groups -o naming an existing file", text("g", "x"),
       with(groups, {shared("images/chelsea.png"), "--layer", "conv2/3x3", "-o", "g"}), 1, "not a directory"},
      {"grid-unknown-layer", "grid --layer that the model lacks", nothing,
       with(grid, {shared("images/chelsea.png"), "--layer", "conv9", "-o", "g"}), 1, "conv9"},
      {"grid-unwritable-output", "grid -o inside a folder that does not exist", nothing,
       with(grid, {shared("images/chelsea.png"), "--layer", "conv2/3x3", "-o", "no/such/g"}), 1, "does not exist"},
      {"facets-missing-images", "facets --images naming no folder", nothing,
       with(facets, {"--images", "nosuchdir", "--class", "1", "-o", "f"}), 1, "nosuchdir"},
      {"facets-no-images", "facets --images of a folder without PNG or JPEG files",
       [](const TempDir& d) { fs::create_directories(d.file("imgs")); },
       with(facets, {"--images", "imgs", "--class", "1", "-o", "f"}), 1, "no PNG or JPEG file"},
      {"facets-unknown-class", "facets --class with a misspelt class", nothing,
       with(facets, {"--images", shared("images"), "--class", "flamingoo", "-o", "f"}), 1, "flamingo"},
      {"facets-k-zero", "facets --k 0", nothing,
       with(facets, {"--images", shared("images"), "--class", "1", "--k", "0", "-o", "f"}), 2, "--k"},
      {"trace-channel-out-of-range", "trace objective on channel 99999 of a 192-channel layer", nothing,
       with(trace, {"--objective", "conv2/3x3:99999", "-o", "t"}), 1, "99999"},
      {"trace-unreadable-image", "trace of a file that is not an image", text("a.png", "junk"),
       {"trace", "googlenet", "@", "--device", "cpu", "a.png", "--objective", "conv2/3x3:1", "--size", "32", "-o", "t"},
       1, "not a PNG or JPEG file"},
      {"trace-size-zero", "trace --size 0", nothing,
       {"trace", "googlenet", "@", "--device", "cpu", "--noise", "--objective", "conv2/3x3:1", "--size", "0", "-o", "t"},
       2, "--size"},
      {"trace-unwritable-output", "trace -o in a folder that cannot be written (/proc)", nothing,
       with(trace, {"--objective", "conv2/3x3:1", "-o", "/proc/t"}), 1, "/proc/t"},
      {"classviz-class-out-of-range", "classviz --class 5000 of 1000 classes", nothing,
       with(classviz, {"--class", "5000", "-o", "c.png"}), 1, "5000"},
      {"classviz-unknown-method", "classviz --method that does not exist", nothing,
       with(classviz, {"--class", "1", "--method", "zz", "-o", "c.png"}), 2, "'zz'"},
      {"classviz-unwritable-output", "classviz -o into a folder that does not exist", nothing,
       with(classviz, {"--class", "1", "-o", "no/such/c.png"}), 1, "does not exist"},
      {"classviz-lr-zero", "classviz --lr 0", nothing, with(classviz, {"--class", "1", "--lr", "0", "-o", "c.png"}), 2,
       "--lr"},
      {"dream-unknown-layer", "dream --layer that the model lacks", nothing,
       with(dream, {shared("images/chelsea.png"), "--layer", "conv9", "-o", "d.png"}), 1, "conv9"},
      {"dream-unreadable-image", "dream of a file that is not an image", text("a.png", "junk"),
       with(dream, {"a.png", "-o", "d.png"}), 1, "not a PNG or JPEG file"},
      {"dream-unreadable-guide", "dream --guide that is not an image", text("a.png", "junk"),
       with(dream, {shared("images/chelsea.png"), "--guide", "a.png", "-o", "d.png"}), 1, "not a PNG or JPEG file"},
      {"dream-unwritable-output", "dream -o into a folder that does not exist", nothing,
       with(dream, {shared("images/chelsea.png"), "--layer", "conv2/3x3", "-o", "no/such/d.png"}), 1,
       "does not exist"},
      {"dream-octaves-zero", "dream --octaves 0", nothing,
       {"dream", "googlenet", "@", "--device", "cpu", "-q", shared("images/chelsea.png"), "--octaves", "0", "-o", "d.png"},
       2, "--octaves"},
      {"dream-step-nan", "dream --step nan", nothing,
       with(dream, {shared("images/chelsea.png"), "--step", "nan", "-o", "d.png"}), 2, "--step"},
      {"fool-unknown-class", "fool --class with a misspelt class", nothing,
       with(fool, {"--class", "flamingoo", "-o", "f.png"}), 1, "flamingo"},
      {"fool-unreadable-photo", "fool --from a file that is not an image", text("a.png", "junk"),
       with(fool, {"--class", "1", "--from", "a.png", "-o", "f.png"}), 1, "not a PNG or JPEG file"},
      {"fool-confidence-above-1", "fool --target-confidence 2", nothing,
       with(fool, {"--class", "1", "--target-confidence", "2", "-o", "f.png"}), 2, "--target-confidence"},
      {"fool-unwritable-output", "fool -o into a folder that does not exist", nothing,
       with(fool, {"--class", "1", "-o", "no/such/f.png"}), 1, "does not exist"},
      {"unknown-option", "an option no command has", nothing, {"info", "googlenet", "@", "--colour"}, 2, "--colour"},
      {"unknown-command", "a command that does not exist", nothing, {"paint", "googlenet"}, 2, "paint"},
      // --- output paths ---
      {"output-missing-folder", "render -o into a folder that does not exist", nothing,
       with(with(render, small), {"--objective", kObjective, "-o", "no/such/r.png"}), 1, "does not exist"},
      {"output-is-folder-forward", "forward --out naming an existing folder",
       [](const TempDir& d) { fs::create_directories(d.file("out")); },
       with(forward, {"--input", shared("images/chelsea.png"), "--layer", "conv1/7x7_s2", "--out", "out"}), 1,
       "it is a directory"},
      {"output-is-folder-npy", "render --npy naming an existing folder",
       [](const TempDir& d) { fs::create_directories(d.file("r.npy")); },
       with(with(render, small), {"--objective", kObjective, "-o", "r.png", "--npy", "r.npy"}), 1, "it is a directory"},
      {"output-late-failure", "render --batch 2 whose second image's file is a folder (found after rendering)",
       [](const TempDir& d) { fs::create_directories(d.file("r_1.png")); },
       with(with(render, small), {"--objective", kObjective, "--batch", "2", "-o", "r.png"}), 1, "it is a directory"},
  };
}

// ---- running them ---------------------------------------------------------------------------

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(fs::relative(e.path(), dir).string());
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); !from.empty() && at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// How a command reads in the doc: "@" as --model-dir <shared>/weights, long arguments shortened.
std::string shown_command(const std::vector<std::string>& args) {
  std::string s = "cuviz";
  for (const auto& a : args) {
    std::string v = a == "@" ? "--model-dir <shared>/weights" : replace_all(a, CUVIZ_SHARED_DIR, "<shared>");
    if (v.size() > 40) v = v.substr(0, 24) + "...(" + std::to_string(v.size()) + " chars)";
    if (v.empty()) v = "\"\"";
    s += " " + v;
  }
  return s;
}

std::string cell(const std::string& s) { return replace_all(s, "|", "\\|"); }
// A code span; one holding a backtick is written with double backticks.
std::string code(const std::string& s) { return s.find('`') == std::string::npos ? "`" + s + "`" : "`` " + s + " ``"; }

struct Row {
  std::string id, input, command, message;
  int code = 0;
};

std::string table(const std::vector<Row>& rows) {
  std::string t = "| case | input | command | exit | message (after `cuviz: error: `) |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& r : rows)
    t += "| " + r.id + " | " + cell(r.input) + " | " + code(cell(r.command)) + " | " + std::to_string(r.code) + " | " +
         code(cell(r.message)) + " |\n";
  return t;
}

const std::string kBegin = "<!-- bad-input-table: generated by tests/apps/bad_input_test.cpp -->\n";
const std::string kEnd = "<!-- /bad-input-table -->\n";

// The doc's rows by case id: the exit code and the message.
std::map<std::string, std::pair<int, std::string>> documented(const std::string& doc) {
  std::map<std::string, std::pair<int, std::string>> rows;
  const size_t b = doc.find(kBegin), e = doc.find(kEnd);
  if (b == std::string::npos || e == std::string::npos) return rows;
  std::istringstream in(doc.substr(b + kBegin.size(), e - b - kBegin.size()));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| ", 0) != 0 || line.rfind("| case", 0) == 0 || line.rfind("| ---", 0) == 0) continue;
    // Split on unescaped '|'.
    std::vector<std::string> cells;
    std::string cur;
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
        cur += '|';
        ++i;
      } else if (line[i] == '|') {
        cells.push_back(cur);
        cur.clear();
      } else {
        cur += line[i];
      }
    }
    if (cells.size() != 5) continue;
    auto trim = [](std::string s) {
      while (!s.empty() && s.front() == ' ') s.erase(s.begin());
      while (!s.empty() && s.back() == ' ') s.pop_back();
      if (s.size() >= 6 && s.rfind("`` ", 0) == 0 && s.substr(s.size() - 3) == " ``")
        s = s.substr(3, s.size() - 6);
      else if (s.size() >= 2 && s.front() == '`' && s.back() == '`')
        s = s.substr(1, s.size() - 2);
      return s;
    };
    rows[trim(cells[0])] = {std::atoi(trim(cells[3]).c_str()), trim(cells[4])};
  }
  return rows;
}

TEST(BadInput, EveryCaseOfDocsErrorsMdGivesItsOneLineErrorAndLeavesNoFile) {
  if (!fs::exists(shared("weights/bvlc_googlenet/bvlc_googlenet.caffemodel")))
    GTEST_SKIP() << "shared weights not found";
  const std::string doc_path = std::string(CUVIZ_SOURCE_DIR) + "/docs/errors.md";
  const std::string doc = test::read_text(doc_path);
  const auto want = documented(doc);
  const auto all = cases();
  ASSERT_GE(all.size(), 40u);
  std::vector<Row> rows;
  std::set<std::string> ids;
  for (const Case& c : all) {
    SCOPED_TRACE(c.id);
    ASSERT_TRUE(ids.insert(c.id).second) << "two cases named " << c.id;
    TempDir dir("bad_input_" + std::to_string(rows.size()));
    c.setup(dir);
    const auto before = listing(dir.path());
    std::vector<std::string> args;
    for (const auto& a : c.args) {
      if (a == "@") {
        for (const auto& m : test::shared_model_dir()) args.push_back(m);
      } else {
        args.push_back(a);
      }
    }
    const auto r = run_cli(args, dir);
    auto after = listing(dir.path());
    after.erase("stdout.txt");
    after.erase("stderr.txt");
    EXPECT_EQ(after, before) << "files were left behind";
    EXPECT_TRUE(test::ended_with_one_error_line(r, c.code, c.phrase));
    const std::string line = r.err_lines().empty() ? "" : r.err_lines()[0];
    const std::string prefix = "cuviz: error: ";
    std::string message = line.rfind(prefix, 0) == 0 ? line.substr(prefix.size()) : line;
    message = replace_all(replace_all(message, CUVIZ_SHARED_DIR, "<shared>"), dir.path().string(), "<dir>");
    rows.push_back({c.id, c.input, shown_command(c.args), message, r.code});
    if (!std::getenv("CUVIZ_UPDATE_ERRORS_DOC")) {
      auto it = want.find(c.id);
      if (it == want.end()) {
        ADD_FAILURE() << "docs/errors.md has no row " << c.id << " (CUVIZ_UPDATE_ERRORS_DOC=1 writes it)";
        continue;
      }
      EXPECT_EQ(r.code, it->second.first) << "exit code differs from docs/errors.md";
      EXPECT_EQ(message, it->second.second) << "message differs from docs/errors.md";
    }
  }
  if (std::getenv("CUVIZ_UPDATE_ERRORS_DOC")) {
    const size_t b = doc.find(kBegin), e = doc.find(kEnd);
    ASSERT_TRUE(b != std::string::npos && e != std::string::npos) << "docs/errors.md lacks the table markers";
    const std::string updated = doc.substr(0, b + kBegin.size()) + table(rows) + doc.substr(e);
    std::ofstream(doc_path, std::ios::binary | std::ios::trunc) << updated;
    return;
  }
  for (const auto& [id, row] : want) EXPECT_TRUE(ids.count(id)) << "docs/errors.md lists a case the test lacks: " << id;
  // The whole table, as the test would write it, matches the doc (inputs and commands too).
  const size_t b = doc.find(kBegin), e = doc.find(kEnd);
  ASSERT_TRUE(b != std::string::npos && e != std::string::npos);
  EXPECT_EQ(doc.substr(b + kBegin.size(), e - b - kBegin.size()), table(rows));
}

// `cuviz info MODEL` run in the model's own folder, by bare file name: the parent path is empty
// (it used to end with "filesystem error: cannot make absolute path").
TEST(BadInput, InfoOfABareModelFileNameInItsOwnFolder) {
  if (!fs::exists(shared("weights/squeezenet_v1.1/squeezenet_v1.1.onnx"))) GTEST_SKIP() << "shared weights not found";
  TempDir dir("bare_name");
  for (const char* f : {"squeezenet_v1.1.onnx", "deploy.prototxt", "squeezenet_v1.1.caffemodel"})
    fs::create_symlink(shared(std::string("weights/squeezenet_v1.1/") + f), dir.file(f));
  for (const char* f : {"squeezenet_v1.1.onnx", "deploy.prototxt", "squeezenet_v1.1.caffemodel"}) {
    const auto r = run_cli({"info", f}, dir);
    EXPECT_EQ(r.code, 0) << f << ": " << r.err;
    EXPECT_NE(r.out.find("input [1, 3, 227, 227]"), std::string::npos) << f << ": " << r.out;
  }
}

}  // namespace
}  // namespace cuviz
