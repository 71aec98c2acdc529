// The folder layering of docs/architecture.md, checked on the source tree: every `#include "X/..."`
// of a product folder must be an edge of the picture in docs/architecture.md, and the picture must
// be a layering (each folder includes only folders drawn below it). A back-edge (kernels/
// including nn/, core/ including anything of ours, io/ including loaders/...) fails here with the
// file and line; so does a picture that no longer matches the tree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// The layers, bottom-up, and the folders each one's files include, as drawn in
// docs/architecture.md (the fenced block after `<!-- include-edges -->`): the picture is the
// table this test checks, so the two cannot drift apart.
struct Layer {
  std::string folder;
  std::set<std::string> includes;
};

std::vector<Layer> documented_layers(const fs::path& root) {
  std::ifstream in(root / "docs" / "architecture.md");
  std::string line;
  while (std::getline(in, line) && line.find("<!-- include-edges -->") == std::string::npos) {
  }
  std::getline(in, line);  // the opening fence
  std::vector<Layer> layers;
  static const std::regex row(R"re(^([a-z]+)\s*->\s*(.*)$)re");
  while (std::getline(in, line) && line.rfind("```", 0) != 0) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    Layer l{m[1].str(), {}};
    std::istringstream targets(m[2].str());
    for (std::string t; targets >> t;) l.includes.insert(t);
    layers.push_back(l);
  }
  return layers;
}

// Each product folder and the folders its files may include (itself included).
std::map<std::string, std::set<std::string>> allowed(const std::vector<Layer>& layers) {
  std::map<std::string, std::set<std::string>> table;
  for (const Layer& l : layers) {
    table[l.folder] = l.includes;
    table[l.folder].insert(l.folder);
  }
  return table;
}

struct Edge {
  std::string file;
  int line;
  std::string target;
};

// Every `#include "dir/..."` of the files under `folder` whose `dir` is one of ours.
std::vector<Edge> includes_of(const fs::path& root, const std::string& folder, const std::set<std::string>& ours) {
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
      if (std::regex_search(text, m, include_re) && ours.count(m[1].str()))
        edges.push_back({fs::relative(entry.path(), root).string(), line, m[1].str()});
    }
  }
  return edges;
}

std::set<std::string> folders_of(const std::vector<Layer>& layers) {
  std::set<std::string> f;
  for (const Layer& l : layers) f.insert(l.folder);
  return f;
}

// The picture is a layering: every folder includes only folders drawn below it.
TEST(Layering, ThePictureHasNoBackEdge) {
  const auto layers = documented_layers(CUVIZ_SOURCE_DIR);
  // The eight libraries of the product, then what is built over them (python/, the module).
  ASSERT_GE(layers.size(), 8u) << "docs/architecture.md: the include-edges block should list core, io, kernels, "
                                  "nn, loaders, optim, viz and apps";
  const std::vector<std::string> product = {"core", "io", "kernels", "nn", "loaders", "optim", "viz", "apps"};
  for (size_t i = 0; i < product.size(); ++i) EXPECT_EQ(layers[i].folder, product[i]) << "include-edges row " << i;
  EXPECT_EQ(layers.front().folder, "core");
  EXPECT_TRUE(layers.front().includes.empty()) << "core/ depends on nothing of ours";
  std::set<std::string> below;
  for (const Layer& l : layers) {
    for (const auto& t : l.includes)
      EXPECT_TRUE(below.count(t)) << l.folder << " -> " << t << ": " << t << "/ is not drawn below " << l.folder << "/";
    below.insert(l.folder);
  }
}

// The tree matches the picture exactly: no include the picture lacks (a back-edge or an
// undrawn edge), no drawn edge the tree does not have.
TEST(Layering, TheTreeMatchesThePicture) {
  const fs::path root = CUVIZ_SOURCE_DIR;
  const auto layers = documented_layers(root);
  const auto table = allowed(layers);
  const auto ours = folders_of(layers);
  int checked = 0;
  for (const Layer& l : layers) {
    ASSERT_TRUE(fs::is_directory(root / l.folder)) << l.folder << "/ is missing from the tree";
    std::set<std::string> used;
    for (const Edge& e : includes_of(root, l.folder, ours)) {
      ++checked;
      if (e.target != l.folder) used.insert(e.target);
      EXPECT_TRUE(table.at(l.folder).count(e.target))
          << e.file << ":" << e.line << " includes " << e.target << "/, which " << l.folder
          << "/ may not depend on (docs/architecture.md, \"The map\")";
    }
    for (const auto& t : l.includes)
      EXPECT_TRUE(used.count(t)) << "docs/architecture.md draws " << l.folder << " -> " << t
                                 << " but no file of " << l.folder << "/ includes " << t << "/: update the picture";
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
  const auto layers = documented_layers(CUVIZ_SOURCE_DIR);
  const auto edges = includes_of(scratch, "kernels", folders_of(layers));
  fs::remove_all(scratch);
  ASSERT_EQ(edges.size(), 2u);
  EXPECT_TRUE(allowed(layers).at("kernels").count(edges[0].target));
  EXPECT_FALSE(allowed(layers).at("kernels").count(edges[1].target));
  EXPECT_EQ(edges[1].line, 2);
}

}  // namespace
