// The folder layering of docs/architecture.md, checked on the source tree: every `#include "X/..."`
// of a product folder must name a folder it may depend on. A back-edge (kernels/ including nn/,
// core/ including anything of ours, io/ including loaders/...) fails here with the file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// Each product folder and the folders its files may include (itself included). This table is the
// picture in docs/architecture.md; change both together.
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> table = {
      {"core", {"core"}},
      {"io", {"core", "io"}},
      {"kernels", {"core", "kernels"}},
      {"nn", {"core", "kernels", "nn"}},
      {"loaders", {"core", "io", "kernels", "nn", "loaders"}},
      {"optim", {"core", "kernels", "optim"}},
      {"viz", {"core", "io", "kernels", "nn", "loaders", "optim", "viz"}},
      {"apps", {"core", "io", "kernels", "nn", "loaders", "optim", "viz", "apps"}},
  };
  return table;
}

struct Edge {
  std::string file;
  int line;
  std::string target;
};

// Every `#include "dir/..."` of the files under `folder` whose `dir` is one of ours.
std::vector<Edge> includes_of(const fs::path& root, const std::string& folder) {
  static const std::regex include_re(R"re(^\s*#\s*include\s*"([A-Za-z0-9_]+)/)re");
  std::vector<Edge> edges;
  for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cpp" && ext != ".cu" && ext != ".cuh") continue;
    std::ifstream in(entry.path());
    std::string text;
    for (int line = 1; std::getline(in, text); ++line) {
      std::smatch m;
      if (std::regex_search(text, m, include_re) && allowed().count(m[1].str()))
        edges.push_back({fs::relative(entry.path(), root).string(), line, m[1].str()});
    }
  }
  return edges;
}

TEST(Layering, NoFolderIncludesAFolderAboveIt) {
  const fs::path root = CUVIZ_SOURCE_DIR;
  int checked = 0;
  for (const auto& [folder, may_include] : allowed()) {
    ASSERT_TRUE(fs::is_directory(root / folder)) << folder << "/ is missing from the tree";
    for (const Edge& e : includes_of(root, folder)) {
      ++checked;
      EXPECT_TRUE(may_include.count(e.target))
          << e.file << ":" << e.line << " includes " << e.target << "/, which " << folder
          << "/ may not depend on (docs/architecture.md, \"Layers\")";
    }
  }
  EXPECT_GT(checked, 100) << "the scan found too few includes: is CUVIZ_SOURCE_DIR the source tree?";
}

// core/ is the root: it includes nothing of ours but itself, and it exists with the files the
// rest of the tree builds on.
TEST(Layering, CoreHoldsTheFoundations) {
  const fs::path root = CUVIZ_SOURCE_DIR;
  for (const char* f : {"tensor.h", "error.h", "check.h", "cuda_runtime.h", "cuda_check.cuh", "exec_context.h",
                        "host_device.h", "nvtx.h"})
    EXPECT_TRUE(fs::exists(root / "core" / f)) << "core/" << f;
  for (const char* f : {"image.h", "npy.h", "labels.h", "atomic_file.h"}) {
    EXPECT_TRUE(fs::exists(root / "io" / f)) << "io/" << f;
    EXPECT_FALSE(fs::exists(root / "loaders" / f)) << "loaders/" << f << " belongs in io/";
  }
}

// The check itself catches a back-edge: a scratch tree where kernels/ includes nn/.
TEST(Layering, DetectsABackEdge) {
  const fs::path scratch = fs::temp_directory_path() / ("cuviz_layering_" + std::to_string(::getpid()));
  fs::create_directories(scratch / "kernels");
  std::ofstream(scratch / "kernels" / "bad.cpp") << "#include \"core/tensor.h\"\n#include \"nn/network.h\"\n";
  const auto edges = includes_of(scratch, "kernels");
  fs::remove_all(scratch);
  ASSERT_EQ(edges.size(), 2u);
  EXPECT_TRUE(allowed().at("kernels").count(edges[0].target));
  EXPECT_FALSE(allowed().at("kernels").count(edges[1].target));
  EXPECT_EQ(edges[1].line, 2);
}

}  // namespace
