// `mpirun -np N cuviz sweep ...` (apps/mpi_world.h): rank r renders shard r/N, rank 0 merges
// after the barrier; on the CPU with 2 and 3 ranks the gallery equals the single-process sweep
// PNG by PNG, and a rerun of the finished job renders nothing. Skipped (and says so) when cuviz
// was built without MPI or mpirun is not installed.
#include <cstdlib>
#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "test_util.h"
#include "viz/sweep_shard.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::shell_quote;
using test::TempDir;

std::vector<std::string> sweep_args(const std::string& out) {
  std::vector<std::string> a = {"sweep", "googlenet", "--layer", "inception_4a/output", "--channels", "0-11",
                                "--size", "48", "--steps", "24", "--batch", "4", "--device", "cpu", "-q", "-o", out};
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

// `[mpirun ... -np N] cuviz args` from `dir`, one OpenMP thread per process; the exit status.
// Under the sanitizer build (scripts/sanitize.sh) MPI ranks run without LeakSanitizer: Open MPI
// leaves its runtime's allocations (libmpi's, and those of plugins it has already unloaded, which
// LSan cannot even name) unreleased at MPI_Finalize. ASan and UBSan stay on, and the sweep code the
// ranks run is leak-checked by the shard tests, which run the same binary without MPI. Outside a
// sanitizer build ASAN_OPTIONS is ignored.
int run(const std::string& launcher, const std::vector<std::string>& args, const TempDir& dir, const std::string& log) {
  const std::string no_lsan = launcher.empty() ? "" : "ASAN_OPTIONS=\"${ASAN_OPTIONS}:detect_leaks=0\" ";
  std::string cmd = "cd " + shell_quote(dir.path().string()) + " && OMP_NUM_THREADS=1 CUVIZ_MODEL_PATH= " + no_lsan +
                    launcher + " " + shell_quote(CUVIZ_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(dir.file(log + ".out")) + " 2>" + shell_quote(dir.file(log + ".err"));
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SweepMpi, RanksShardAndRankZeroMergesTheSingleProcessGallery) {
#if !CUVIZ_HAS_MPI
  GTEST_SKIP() << "cuviz was built without MPI (CUVIZ_MPI; Debian: libopenmpi-dev openmpi-bin)";
#endif
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun is not installed (openmpi-bin)";
  TempDir tmp("sweep_mpi");
  const std::string one = tmp.file("one");
  ASSERT_EQ(run("", sweep_args(one), tmp, "one"), 0) << test::read_text(tmp.file("one.err"));
  const auto want = SweepManifest::load(one);
  ASSERT_TRUE(want && want->channels.size() == 12u);
  for (int np : {2, 3}) {
    const std::string out = tmp.file(cat("np", np));
    const std::string mpirun = cat("mpirun --oversubscribe --allow-run-as-root -np ", np);
    ASSERT_EQ(run(mpirun, sweep_args(out), tmp, cat("np", np)), 0) << test::read_text(tmp.file(cat("np", np, ".err")));
    EXPECT_NE(test::read_text(tmp.file(cat("np", np, ".err"))).find(cat("shard ", np - 1, "/", np, " from the MPI rank")),
              std::string::npos);
    EXPECT_NE(test::read_text(tmp.file(cat("np", np, ".out"))).find("index.html"), std::string::npos);
    const auto got = SweepManifest::load(out);
    ASSERT_TRUE(got.has_value()) << "rank 0 did not merge, np " << np;
    ASSERT_EQ(got->channels.size(), 12u);
    for (const auto& [c, r] : want->channels) {
      EXPECT_EQ(read_file((fs::path(out) / r.file).string()), read_file((fs::path(one) / r.file).string()))
          << "channel " << c << " np " << np;
      EXPECT_EQ(got->channels.at(c).objective, r.objective) << "channel " << c << " np " << np;
    }
    EXPECT_EQ(read_file(out + "/index.html"), read_file(one + "/index.html")) << np;
    EXPECT_EQ(read_file(out + "/contact_sheet.png"), read_file(one + "/contact_sheet.png")) << np;
    EXPECT_EQ(int(load_shard_manifests(out).size()), np);
  }
  // A rerun of the finished job (as after a crashed rank) resumes: nothing is rendered again.
  const std::string out = tmp.file("np2");
  const double seconds_before = SweepManifest::load(out)->render_seconds;
  ASSERT_EQ(run("mpirun --oversubscribe --allow-run-as-root -np 2", sweep_args(out), tmp, "again"), 0)
      << test::read_text(tmp.file("again.err"));
  EXPECT_EQ(SweepManifest::load(out)->render_seconds, seconds_before) << "a finished sweep rendered again";
}

}  // namespace
}  // namespace cuviz
