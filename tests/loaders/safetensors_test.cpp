// safetensors: write/read round trips, exact F16/BF16 widening, and one clear cuviz::Error
// (naming the file and the tensor) for every kind of broken file: truncated, header length past
// the end, bad JSON, unknown or non-float dtype, size/shape mismatch, offsets out of range,
// overlaps, gaps, trailing bytes; and for files that do not fit a torchvision architecture.
#include "loaders/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "loader_test_util.h"
#include "loaders/model.h"
#include "loaders/torchvision_models.h"
#include "test_util.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

// A safetensors file from a literal header and data section.
std::string st_bytes(const std::string& header, const std::string& data, uint64_t declared = UINT64_MAX) {
  const uint64_t n = declared == UINT64_MAX ? header.size() : declared;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string floats_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Expects one cuviz::Error whose message contains every fragment, on one line unless it is a
// list by design (model resolution lists every path it searched).
void expect_error(const std::function<void()>& f, const std::vector<std::string>& fragments,
                  bool one_line = true) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << fragments.front();
  } catch (const Error& e) {
    const std::string m = e.what();
    if (one_line) EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    for (const auto& frag : fragments) EXPECT_NE(m.find(frag), std::string::npos) << "'" << frag << "' not in: " << m;
  }
}

void expect_open_error(const std::string& bytes, const std::vector<std::string>& fragments) {
  TempDir dir("safetensors");
  const std::string p = dir.file("bad.safetensors");
  write_text(p, bytes);
  std::vector<std::string> all = fragments;
  all.push_back(p);
  expect_error([&] { SafetensorsFile f(p); }, all);
}

TEST(Safetensors, RoundTripWithMetadata) {
  TempDir dir("safetensors");
  const std::vector<float> a = {1.5f, -2.f, 3.25f, 0.f, 7.f, -0.5f};
  const std::vector<float> b = {std::numeric_limits<float>::denorm_min(), -1e30f, 42.f};
  const int64_t steps = 12345;
  write_safetensors(dir.file("m.safetensors"),
                    {{"z.weight", {2, 3}, a.data()}, {"a.bias", {3}, b.data()}, {"n", {}, &steps, "I64"},
                     {"empty", {0, 4}, nullptr}},
                    {{"format", "pt"}});
  const SafetensorsFile f(dir.file("m.safetensors"));
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a.bias", "empty", "n", "z.weight"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.info("z.weight").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.info("n").dtype, "I64");
  EXPECT_EQ(f.info("n").numel(), 1);
  EXPECT_EQ(f.read_floats("z.weight"), a);  // exact: bytes are copied
  EXPECT_EQ(f.read_floats("a.bias"), b);
  EXPECT_TRUE(f.read_floats("empty").empty());
  const OwnedTensor t = f.read_tensor("z.weight", {2, 3}, Shape{1, 2, 3, 1});
  EXPECT_EQ(t.shape(), (Shape{1, 2, 3, 1}));
  EXPECT_EQ(t.data()[5], -0.5f);
  // The header is padded to 8 bytes, as the reference writer does.
  const std::string raw = read_text(dir.file("m.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, HalfAndBfloat16WidenExactly) {
  TempDir dir("safetensors");
  // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 48 * 2^-24 (subnormal), -0, inf, 0x3555.
  const std::vector<uint16_t> h = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0030, 0x8000, 0x7C00, 0x3555};
  const std::vector<float> h_want = {1.f, -2.f, 65504.f, std::ldexp(1.f, -24), 3 * std::ldexp(1.f, -20), -0.f,
                                     INFINITY, 0.333251953125f};
  // BF16: the top half of a float's bits.
  const std::vector<uint16_t> bf = {0x3F80, 0xC0A0, 0x4049, 0xFF80};
  const std::vector<float> bf_want = {1.f, -5.f, 3.140625f, -INFINITY};
  write_safetensors(dir.file("h.safetensors"),
                    {{"h", {8}, h.data(), "F16"}, {"bf", {2, 2}, bf.data(), "BF16"}});
  const SafetensorsFile f(dir.file("h.safetensors"));
  const auto got_h = f.read_floats("h");
  for (size_t i = 0; i < h.size(); ++i) {
    EXPECT_EQ(got_h[i], h_want[i]) << "F16 " << std::hex << h[i];
    EXPECT_EQ(std::signbit(got_h[i]), std::signbit(h_want[i])) << "F16 " << std::hex << h[i];
  }
  EXPECT_EQ(f.read_floats("bf"), bf_want);
}

TEST(Safetensors, TruncatedBeforeTheHeaderLength) {
  expect_open_error(std::string("\x10\0\0", 3), {"3 bytes is too short", "truncated"});
}

TEST(Safetensors, HeaderLengthBeyondTheFile) {
  expect_open_error(st_bytes("{}", "", 4096), {"header length 4096", "beyond the end of the file"});
}

TEST(Safetensors, HeaderIsNotJson) {
  expect_open_error(st_bytes("{\"a\": [1, 2", ""), {"not valid JSON"});
  expect_open_error(st_bytes("[1, 2]", ""), {"not a JSON object"});
}

TEST(Safetensors, DataCutShortPutsOffsetsOutOfRange) {
  TempDir dir("safetensors");
  const std::vector<float> v(16, 1.f);
  write_safetensors(dir.file("full.safetensors"), {{"w", {4, 4}, v.data()}});
  const std::string full = read_text(dir.file("full.safetensors"));
  expect_open_error(full.substr(0, full.size() - 4), {"tensor 'w'", "reach beyond the data section"});
}

TEST(Safetensors, OffsetsOutOfRangeOrReversed) {
  expect_open_error(st_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", floats_bytes({1, 2})),
                    {"tensor 'w'", "[0, 16]", "beyond the data section (8 bytes"});
  expect_open_error(st_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", floats_bytes({1, 2})),
                    {"tensor 'w'", "end before they begin"});
  expect_open_error(st_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", floats_bytes({1, 2})),
                    {"tensor 'w'", "not a non-negative integer"});
}

TEST(Safetensors, UnknownDtype) {
  expect_open_error(st_bytes(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", floats_bytes({1, 2})),
                    {"tensor 'w'", "unknown dtype 'F33'"});
}

TEST(Safetensors, NonFloatDtypeIsNotAWeight) {
  TempDir dir("safetensors");
  const std::vector<int32_t> v = {1, 2};
  write_safetensors(dir.file("i.safetensors"), {{"conv1.weight", {2}, v.data(), "I32"}});
  const SafetensorsFile f(dir.file("i.safetensors"));
  expect_error([&] { f.read_floats("conv1.weight"); },
               {dir.file("i.safetensors"), "tensor 'conv1.weight'", "dtype I32", "F32, F16 or BF16"});
}

TEST(Safetensors, ShapeDoesNotMatchTheOffsets) {
  expect_open_error(st_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                             floats_bytes({1, 2, 3, 4, 5})),
                    {"tensor 'w'", "F32 [2, 3] needs 24 bytes", "hold 20"});
}

TEST(Safetensors, OverlapGapAndTrailingBytes) {
  expect_open_error(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                             floats_bytes({1, 2, 3})),
                    {"tensor 'b'", "overlaps tensor 'a'"});
  expect_open_error(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                             floats_bytes({1, 2, 3})),
                    {"bytes [4, 8) before tensor 'b' belong to no tensor"});
  expect_open_error(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats_bytes({1, 2})),
                    {"4 bytes after the last tensor"});
}

TEST(Safetensors, MalformedEntriesAndMetadata) {
  expect_open_error(st_bytes(R"({"w":{"dtype":"F32","shape":[1]}})", floats_bytes({1})),
                    {"tensor 'w'", "dtype, shape and data_offsets"});
  expect_open_error(st_bytes(R"({"__metadata__":{"format":1}})", ""), {"__metadata__ entry 'format'"});
}

TEST(Safetensors, MissingTensorNamesIt) {
  TempDir dir("safetensors");
  const std::vector<float> v = {1};
  write_safetensors(dir.file("m.safetensors"), {{"a", {1}, v.data()}});
  const SafetensorsFile f(dir.file("m.safetensors"));
  EXPECT_FALSE(f.contains("b"));
  expect_error([&] { f.info("b"); }, {dir.file("m.safetensors"), "no tensor named 'b'"});
}

// --- files that do not fit a torchvision architecture ------------------------------------------

TEST(TorchvisionSafetensors, MissingTensorForTheArchitecture) {
  TempDir dir("safetensors");
  const std::vector<float> w(64 * 3 * 7 * 7, 0.01f);
  write_safetensors(dir.file("g.safetensors"), {{"conv1.conv.weight", {64, 3, 7, 7}, w.data()}});
  expect_error([&] { load_torchvision(dir.file("g.safetensors"), "googlenet"); },
               {dir.file("g.safetensors"), "googlenet needs tensor 'conv1.bn.weight' [64]", "conv1.conv.weight"});
}

TEST(TorchvisionSafetensors, WrongTensorShape) {
  TempDir dir("safetensors");
  const std::vector<float> w(64 * 3 * 5 * 5, 0.01f);
  write_safetensors(dir.file("g.safetensors"), {{"conv1.conv.weight", {64, 3, 5, 5}, w.data()}});
  expect_error([&] { load_torchvision(dir.file("g.safetensors"), "googlenet"); },
               {dir.file("g.safetensors"), "tensor 'conv1.conv.weight' has shape [64, 3, 5, 5]",
                "expects [64, 3, 7, 7]"});
}

TEST(TorchvisionSafetensors, WrongDtypeForAWeight) {
  TempDir dir("safetensors");
  const std::vector<int32_t> w(64 * 3 * 3 * 3, 1);
  write_safetensors(dir.file("v.safetensors"), {{"features.0.weight", {64, 3, 3, 3}, w.data(), "I32"},
                                                {"features.28.weight", {1}, w.data(), "I32"}});
  expect_error([&] { load_torchvision(dir.file("v.safetensors")); },
               {dir.file("v.safetensors"), "tensor 'features.0.weight'", "dtype I32"});
}

TEST(TorchvisionSafetensors, UnknownArchitecture) {
  TempDir dir("safetensors");
  const std::vector<float> v = {1};
  write_safetensors(dir.file("x.safetensors"), {{"layer1.0.conv1.weight", {1}, v.data()}});
  expect_error([&] { load_torchvision(dir.file("x.safetensors")); },
               {dir.file("x.safetensors"), "match none of torchvision's googlenet, vgg16, vgg19"});
  expect_error([&] { load_torchvision(dir.file("x.safetensors"), "resnet50"); },
               {"unknown architecture 'resnet50'"});
}

// --- model resolution (--format safetensors) --------------------------------------------------

// Sets $CUVIZ_MODEL_PATH for one test and restores it.
class ModelPathGuard {
 public:
  explicit ModelPathGuard(const std::string& value) {
    if (const char* old = std::getenv("CUVIZ_MODEL_PATH")) old_ = old, had_ = true;
    ::setenv("CUVIZ_MODEL_PATH", value.c_str(), 1);
  }
  ~ModelPathGuard() {
    if (had_)
      ::setenv("CUVIZ_MODEL_PATH", old_.c_str(), 1);
    else
      ::unsetenv("CUVIZ_MODEL_PATH");
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(TorchvisionSafetensors, FormatNameParses) {
  EXPECT_EQ(parse_model_format("safetensors"), ModelFormat::safetensors);
  EXPECT_STREQ(model_format_name(ModelFormat::safetensors), "safetensors");
}

TEST(TorchvisionSafetensors, ResolvesNamesUnderTorchvisionDirectory) {
  TempDir dir("safetensors");
  std::filesystem::create_directories(dir.path() / "torchvision");
  const std::string file = (dir.path() / "torchvision" / "vgg16.safetensors").string();
  const std::vector<float> v = {1};
  write_safetensors(file, {{"features.28.weight", {1}, v.data()}});
  ModelPathGuard guard(dir.path().string());
  for (ModelFormat format : {ModelFormat::safetensors, ModelFormat::automatic}) {
    const ModelFiles f = resolve_model("vgg16", format);  // no Caffe or ONNX form here: auto falls back
    EXPECT_EQ(f.format, ModelFormat::safetensors);
    EXPECT_EQ(f.name, "vgg16");
    EXPECT_EQ(f.safetensors, file);
    EXPECT_EQ(f.weights_file(), file);
    EXPECT_FALSE(f.meta.bgr);
    EXPECT_EQ(f.meta.value_scale, 1.f);
    EXPECT_FLOAT_EQ(f.meta.mean[1], 0.456f);
    EXPECT_FLOAT_EQ(f.meta.std[1], 0.224f);
    EXPECT_EQ(f.meta.input_size, 224);
  }
  const ModelFiles by_path = resolve_model(file);
  EXPECT_EQ(by_path.format, ModelFormat::safetensors);
  EXPECT_EQ(by_path.name, "vgg16");  // from the file name
  EXPECT_EQ(resolve_model((dir.path() / "torchvision").string(), ModelFormat::safetensors).safetensors, file);
  expect_error([&] { resolve_model(file, ModelFormat::caffe); },
               {file, "is a safetensors file but --format caffe"});
  expect_error([&] { resolve_model("vgg19", ModelFormat::safetensors); },
               {"vgg19 (safetensors) not found", (dir.path() / "torchvision" / "vgg19.safetensors").string(),
                "docs/formats.md"},
               /*one_line=*/false);
  // The loader reports what the file lacks.
  expect_error([&] { load_model("vgg16", ModelFormat::safetensors); },
               {file, "vgg16 needs tensor 'features.0.weight'"});
}

}  // namespace
}  // namespace cuviz
