// Helpers shared by the loader tests: paths of the shared model files and small temp-file tools
// for building broken copies of them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "nn/graph.h"

namespace cuviz::test {

inline std::string weights_dir() { return std::string(CUVIZ_SHARED_DIR) + "/weights"; }
inline std::string googlenet_dir() { return weights_dir() + "/bvlc_googlenet"; }
inline std::string squeezenet_dir() { return weights_dir() + "/squeezenet_v1.1"; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("cuviz_" + tag + "_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Replaces the first occurrence of `from` (which must exist) in `text`.
inline std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "pattern not found: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

inline int count_kind(const Graph& g, LayerKind k) {
  int n = 0;
  for (const auto& l : g.layers) n += l.kind == k;
  return n;
}

inline const LayerDesc& layer(const Graph& g, const std::string& name) {
  for (const auto& l : g.layers)
    if (l.name == name) return l;
  throw Error("test: no layer " + name);
}

// Runs f, expects a cuviz::Error whose message contains every one of `parts`.
template <class F>
::testing::AssertionResult throws_with(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      if (msg.find(p) == std::string::npos)
        return ::testing::AssertionFailure() << "message lacks \"" << p << "\": " << msg;
    return ::testing::AssertionSuccess() << msg;
  }
  return ::testing::AssertionFailure() << "no cuviz::Error thrown";
}

}  // namespace cuviz::test
