// Determinism on the CPU: the same command with the same seed and the same thread count writes
// byte-identical PNGs (and the same objective), run after run of the binary. Checked for
// `render` (a batch of two images, so the per-image loops and the batched kernels both run) and
// `sweep`, each at 2 OpenMP threads so the parallel loops really split the work. The CPU kernels
// give every output element to one thread and sum in a fixed order (no reductions across
// threads whose order depends on scheduling), so nothing may differ, not even between 1 and 2
// threads. A different seed must give a different picture, so the comparison is not vacuous. docs/reliability.md, "Determinism".
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "test_util.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::TempDir;

// Sets OMP_NUM_THREADS for the binaries this test starts (they inherit the environment), and
// restores it afterwards.
class Threads {
 public:
  explicit Threads(const char* n) {
    if (const char* old = std::getenv("OMP_NUM_THREADS")) old_ = old;
    setenv("OMP_NUM_THREADS", n, 1);
  }
  ~Threads() {
    if (old_.empty())
      unsetenv("OMP_NUM_THREADS");
    else
      setenv("OMP_NUM_THREADS", old_.c_str(), 1);
  }

 private:
  std::string old_;
};

std::vector<std::string> render_args(const std::string& out, const std::string& seed) {
  std::vector<std::string> a = {"render", "googlenet", "--objective", "inception_4a/output:7", "--size", "40",
                                "--steps", "6", "--batch", "2", "--seed", seed, "--device", "cpu", "-q", "-o", out};
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

TEST(Determinism, RenderTwiceWithTheSameSeedIsByteIdentical) {
  Threads threads("2");
  TempDir tmp("determinism_render");
  for (const char* name : {"a", "b", "c"}) {
    const auto r = run_cli(render_args(tmp.file(std::string(name) + ".png"), name[0] == 'c' ? "8" : "3"), tmp);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // --batch 2 writes a.png (the grid) and a_0.png, a_1.png.
  for (const char* png : {".png", "_0.png", "_1.png"}) {
    const std::string a = read_file(tmp.file(std::string("a") + png)), b = read_file(tmp.file(std::string("b") + png));
    ASSERT_FALSE(a.empty()) << png;
    EXPECT_TRUE(a == b) << "two runs with seed 3 wrote different " << png;
    EXPECT_FALSE(a == read_file(tmp.file(std::string("c") + png))) << "seed 8 wrote the same " << png << " as seed 3";
  }
  // The CPU kernels split outputs, never sums, between threads (OpenBLAS too: its threads take
  // blocks of the output matrix), so one thread writes the same bytes as two.
  {
    Threads one("1");
    const auto r = run_cli(render_args(tmp.file("one.png"), "3"), tmp);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(read_file(tmp.file("one.png")) == read_file(tmp.file("a.png"))) << "1 thread differs from 2";
  }
  // --deterministic (the ordered sums of CUDA, core/determinism.h) is accepted and changes
  // nothing on the CPU, which always is.
  {
    auto args = render_args(tmp.file("det.png"), "3");
    args.push_back("--deterministic");
    const auto r = run_cli(args, tmp);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(read_file(tmp.file("det.png")) == read_file(tmp.file("a.png")));
  }
  const auto ja = nlohmann::json::parse(read_file(tmp.file("a.json")));
  const auto jb = nlohmann::json::parse(read_file(tmp.file("b.json")));
  EXPECT_EQ(ja.at("objective_final"), jb.at("objective_final"));
  EXPECT_EQ(ja.at("history"), jb.at("history"));
}

TEST(Determinism, SweepTwiceIsByteIdentical) {
  Threads threads("2");
  TempDir tmp("determinism_sweep");
  const char* layer = "inception_3b/output";
  for (const char* name : {"a", "b"}) {
    std::vector<std::string> args = {"sweep", "googlenet", "--layer", layer, "--channels", "3-5", "--size", "40",
                                     "--steps", "6", "--batch", "2", "--device", "cpu", "-q", "-o", tmp.file(name)};
    for (const auto& d : test::shared_model_dir()) args.push_back(d);
    const auto r = run_cli(args, tmp);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  int compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp.file("a"))) {
    if (e.path().extension() != ".png") continue;
    const fs::path rel = fs::relative(e.path(), tmp.file("a"));
    const fs::path other = fs::path(tmp.file("b")) / rel;
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_TRUE(read_file(e.path().string()) == read_file(other.string())) << rel << " differs";
    ++compared;
  }
  EXPECT_GE(compared, 4) << "3 channel PNGs and the contact sheet";
}

}  // namespace
}  // namespace cuviz
