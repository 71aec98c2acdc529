// The fuzz corpora (tests/fuzz/corpus/<target>/: the seeds and the minimised inputs of past
// findings, regression-*) replayed through the same parsers as the libFuzzer targets of
// tests/fuzz/, in the ordinary build: each input either parses or gives a cuviz::Error; any
// other exception fails, and a crash ends the test. Cheap (a few dozen small files), so CI
// replays the regression inputs on every run; scripts/fuzz.sh does the fuzzing itself.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "io/image.h"
#include "io/labels.h"
#include "io/npy.h"
#include "loaders/caffe_loader.h"
#include "loaders/loader_test_util.h"
#include "loaders/onnx_loader.h"
#include "loaders/safetensors.h"
#include "viz/gallery.h"
#include "viz/objective.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using namespace cuviz::test;

const char kCaffemodelArch[] = R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "sc" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param { num_output: 3 } }
)";

TEST(FuzzCorpus, EveryInputParsesOrGivesACuvizError) {
  const fs::path root = fs::path(CUVIZ_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  ASSERT_TRUE(fs::is_directory(root)) << root;
  TempDir dir("fuzz_corpus");
  write_text(dir.file("arch.prototxt"), kCaffemodelArch);
  write_text(dir.file("empty.caffemodel"), "");
  // What each target does with a file (tests/fuzz/<target>_fuzz.cpp).
  const std::map<std::string, std::function<void(const std::string&)>> run = {
      {"npy", [](const std::string& p) { read_npy_tensor(p); }},
      {"image", [](const std::string& p) { read_image(p); }},
      {"labels", [](const std::string& p) { parse_labels(read_text(p), p); }},
      {"objective", [](const std::string& p) { parse_objective(parse_objective(read_text(p)).str()); }},
      {"onnx", [](const std::string& p) { load_onnx(p); }},
      {"prototxt", [&](const std::string& p) { load_caffe(p, dir.file("empty.caffemodel")); }},
      {"caffemodel", [&](const std::string& p) { load_caffe(dir.file("arch.prototxt"), p); }},
      {"safetensors",
       [](const std::string& p) {
         const SafetensorsFile f(p);
         for (const auto& name : f.names()) f.read_floats(name);
       }},
      {"manifest",
       [&](const std::string& p) {
         fs::create_directories(dir.file("sweep"));
         fs::copy_file(p, dir.file("sweep/manifest.json"), fs::copy_options::overwrite_existing);
         const std::optional<SweepManifest> m = SweepManifest::load(dir.file("sweep"));
         if (m)
           for (const auto& [c, r] : m->channels) EXPECT_EQ(r.file, channel_file(m->settings.layer, c)) << p;
       }},
  };
  int files = 0, regressions = 0;
  for (const auto& target : fs::directory_iterator(root)) {
    const std::string name = target.path().filename().string();
    ASSERT_TRUE(run.count(name)) << "no parser for corpus " << name;
    for (const auto& f : fs::directory_iterator(target.path())) {
      ++files;
      regressions += f.path().filename().string().rfind("regression-", 0) == 0;
      try {
        run.at(name)(f.path().string());
      } catch (const Error&) {
        // a clear refusal
      } catch (const std::exception& e) {
        ADD_FAILURE() << f.path() << ": " << e.what() << " (not a cuviz::Error)";
      }
    }
  }
  EXPECT_GE(files, 20);
  EXPECT_GE(regressions, 2);
}

}  // namespace
}  // namespace cuviz
