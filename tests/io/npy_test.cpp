// .npy files: round trips of every rank, the shipped reference arrays, and clear errors for
// other dtypes, Fortran order, bad magic and truncated files.
#include "io/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "loaders/loader_test_util.h"
#include "test_util.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

// A v1.0 header for `dict`, padded like NumPy's, followed by `payload`.
std::string npy_bytes(const std::string& dict, const std::string& payload, int major = 1) {
  std::string header = dict;
  const size_t pre = major == 1 ? 10 : 12;
  while ((pre + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  const size_t len = header.size();
  out += char(len & 0xff);
  out += char((len >> 8) & 0xff);
  if (major != 1) out += std::string(2, '\0');
  return out + header + payload;
}

TEST(Npy, RoundTripTensor) {
  TempDir dir("npy");
  OwnedTensor t({2, 3, 4, 5});
  fill_uniform(t.view(), 7);
  write_npy(dir.file("t.npy"), t);
  const OwnedTensor r = read_npy_tensor(dir.file("t.npy"));
  EXPECT_TRUE(all_close(r.view(), t.view(), 0.0));  // exact: bytes are copied, no arithmetic
  const NpyArray a = read_npy(dir.file("t.npy"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3, 4, 5}));
}

// A NaN or Inf is refused with one clear error and no file (neither the target nor its temporary).
TEST(Npy, NonFiniteValuesAreRefusedAndNothingIsWritten) {
  TempDir dir("npy");
  OwnedTensor t({1, 1, 2, 3});
  fill_uniform(t.view(), 7);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    t.data()[4] = bad;
    try {
      write_npy(dir.file("t.npy"), t);
      FAIL() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("element 4 is"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not finite"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  }
}

TEST(Npy, RoundTripRanksOneToThree) {
  TempDir dir("npy");
  const std::vector<float> v = {1.5f, -2.f, 3.25f, 0.f, 7.f, -0.5f};
  write_npy(dir.file("a.npy"), v.data(), {6});
  EXPECT_EQ(read_npy(dir.file("a.npy")).data, v);
  EXPECT_EQ(read_npy_tensor(dir.file("a.npy")).shape(), (Shape{1, 6, 1, 1}));
  write_npy(dir.file("b.npy"), v.data(), {2, 3});
  EXPECT_EQ(read_npy_tensor(dir.file("b.npy")).shape(), (Shape{2, 3, 1, 1}));
  write_npy(dir.file("c.npy"), v.data(), {1, 2, 3});
  EXPECT_EQ(read_npy_tensor(dir.file("c.npy")).shape(), (Shape{1, 1, 2, 3}));
  // The header NumPy requires: total prefix a multiple of 64, ending in a newline.
  const std::string bytes = read_text(dir.file("b.npy"));
  const size_t header_len = size_t(uint8_t(bytes[8])) | size_t(uint8_t(bytes[9])) << 8;
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  EXPECT_NE(bytes.find("'shape': (2, 3)"), std::string::npos);
}

TEST(Npy, ReadsTheSharedReferenceArrays) {
  const OwnedTensor in = read_npy_tensor(weights_dir() + "/reference/squeezenet_v1.1_coffee_input.npy");
  EXPECT_EQ(in.shape(), (Shape{1, 3, 227, 227}));
  const OwnedTensor prob = read_npy_tensor(weights_dir() + "/reference/squeezenet_v1.1_coffee_prob.npy");
  ASSERT_EQ(prob.shape(), (Shape{1, 1000, 1, 1}));
  double sum = 0;
  for (int i = 0; i < 1000; ++i) sum += prob.data()[i];
  EXPECT_NEAR(sum, 1.0, 1e-4);  // a float32 softmax sums to 1 within accumulated rounding
  EXPECT_NEAR(prob.data()[967], 0.9786, 5e-5);  // espresso, from the README's top-5 table
}

TEST(Npy, VersionTwoHeader) {
  TempDir dir("npy");
  const float v[2] = {1.f, 2.f};
  write_text(dir.file("v2.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                           std::string(reinterpret_cast<const char*>(v), 8), 2));
  EXPECT_EQ(read_npy(dir.file("v2.npy")).data, (std::vector<float>{1.f, 2.f}));
}

TEST(Npy, BadFilesAreClearErrors) {
  TempDir dir("npy");
  const std::string eight(8, '\0');
  write_text(dir.file("f8.npy"), npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", eight));
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("f8.npy")); }, {"f8.npy", "'<f8'", "float32"}));
  write_text(dir.file("be.npy"), npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", eight));
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("be.npy")); }, {"'>f4'"}));
  write_text(dir.file("fo.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", eight));
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("fo.npy")); }, {"fo.npy", "fortran_order", "C order"}));
  write_text(dir.file("short.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", eight));
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("short.npy")); }, {"short.npy", "truncated data", "8 of 48"}));
  write_text(dir.file("magic.npy"), "PK\x03\x04 this is a zip");
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("magic.npy")); }, {"magic.npy", "bad magic"}));
  write_text(dir.file("noshape.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False}", ""));
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("noshape.npy")); }, {"'shape'"}));
  std::string cut = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "");
  write_text(dir.file("cut.npy"), cut.substr(0, 30));
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("cut.npy")); }, {"truncated header"}));
  EXPECT_TRUE(throws_with([&] { read_npy(dir.file("missing.npy")); }, {"cannot open"}));
}

// Sizes from the header are checked before anything is allocated: a 16-byte body claiming
// 2^32 + 3 elements, dims whose product overflows int64 and a 23-digit dim are one error each
// (they used to allocate 16.9 GB, wrap to 0 elements, or throw a bare "stoll").
TEST(Npy, HeaderSizesAreCheckedBeforeAllocation) {
  TempDir dir("npy");
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  struct Bad {
    std::string shape, payload, fragment;
  };
  for (const Bad& b : {Bad{"(1, 4294967299, 1, 1)", std::string(16, '\0'), "more than 2147483648 elements"},
                       Bad{"(999999999999999999, 999999999999999999)", "", "more than 2147483648 elements"},
                       Bad{"(99999999999999999999999,)", "", "more than 18 digits"},
                       Bad{"(1000, 1000)", std::string(16, '\0'), "truncated data: 16 of 4000000 bytes"}}) {
    write_text(dir.file("x.npy"), npy_bytes(dict + b.shape + ", }", b.payload));
    EXPECT_TRUE(throws_with([&] { read_npy(dir.file("x.npy")); }, {"x.npy", b.fragment})) << b.shape;
  }
}

// A zero-element array round-trips (no memcpy from a null pointer: the UBSan report).
TEST(Npy, ZeroElementArrayRoundTrips) {
  TempDir dir("npy");
  write_npy(dir.file("e.npy"), nullptr, {0, 4});
  const NpyArray a = read_npy(dir.file("e.npy"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(a.data.empty());
  const OwnedTensor t = read_npy_tensor(dir.file("e.npy"));
  EXPECT_EQ(t.shape(), (Shape{0, 4, 1, 1}));
}

// Writing over a folder fails before anything is written and leaves no temporary file (forward
// --out DIR used to leave DIR.tmp).
TEST(Npy, WritingOverAFolderLeavesNoTemporaryFile) {
  TempDir dir("npy");
  std::filesystem::create_directories(dir.file("out"));
  OwnedTensor t({1, 1, 2, 2});
  fill_uniform(t.view(), 3);
  EXPECT_TRUE(throws_with([&] { write_npy(dir.file("out"), t); }, {"out", "it is a directory"}));
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.path().filename() != "out";
  EXPECT_EQ(entries, 0u);
}

}  // namespace
}  // namespace cuviz
