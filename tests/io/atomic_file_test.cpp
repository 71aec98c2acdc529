// io/atomic_file.h: a group of files is written all or none (render's PNGs, .npy and .json):
// when one cannot be written, none of the targets appears and no temporary file is left.
#include "io/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "loaders/loader_test_util.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using namespace cuviz::test;

size_t entries(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(AtomicFile, GroupIsWrittenAllOrNone) {
  TempDir dir("atomic");
  write_files_atomic({{dir.file("a.png"), "A"}, {dir.file("a.json"), "{}"}});
  EXPECT_EQ(read_text(dir.file("a.png")), "A");
  EXPECT_EQ(read_text(dir.file("a.json")), "{}");
  // The last file cannot be written (its folder does not exist; then it is a folder): the others
  // keep their old contents, and no temporary file is left.
  fs::create_directories(dir.file("dir.npy"));
  for (const std::string bad : {dir.file("missing/a.npy"), dir.file("dir.npy")}) {
    EXPECT_THROW(write_files_atomic({{dir.file("a.png"), "B"}, {dir.file("a.json"), "[]"}, {bad, "x"}}), Error) << bad;
    EXPECT_EQ(read_text(dir.file("a.png")), "A");
    EXPECT_EQ(read_text(dir.file("a.json")), "{}");
    EXPECT_EQ(entries(dir.path()), 2u);
  }
  // A fresh group that fails creates nothing.
  EXPECT_THROW(write_files_atomic({{dir.file("b.png"), "B"}, {dir.file("missing/b.npy"), "x"}}), Error);
  EXPECT_FALSE(fs::exists(dir.file("b.png")));
  EXPECT_EQ(entries(dir.path()), 2u);
}

TEST(AtomicFile, SingleFileOverAFolderIsAClearError) {
  TempDir dir("atomic");
  fs::create_directories(dir.file("out"));
  try {
    write_file_atomic(dir.file("out"), "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("it is a directory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(dir.path()), 0u);
}

}  // namespace
}  // namespace cuviz
