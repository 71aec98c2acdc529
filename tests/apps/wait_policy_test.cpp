// The OpenMP wait policy cuviz runs under (apps/wait_policy.h): passive unless the user chose,
// by re-executing itself before libgomp is used. libgomp prints its settings when
// OMP_DISPLAY_ENV=verbose, once per process start; GOMP_SPINCOUNT shows the policy it applies
// (300000: its default spin-then-sleep; 0: passive; 30000000000: active).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include "apps/run_cli.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

// The environment for one test; restored afterwards.
class Env {
 public:
  Env(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const auto& [k, v] : vars) {
      const char* old = std::getenv(k);
      saved_.push_back({k, old ? std::optional<std::string>(old) : std::nullopt});
      if (v)
        setenv(k, v, 1);
      else
        unsetenv(k);
    }
  }
  ~Env() {
    for (const auto& [k, v] : saved_) {
      if (v)
        setenv(k.c_str(), v->c_str(), 1);
      else
        unsetenv(k.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// The GOMP_SPINCOUNT values libgomp displayed, one per process start.
std::vector<std::string> spin_counts(const std::string& err) {
  std::vector<std::string> counts;
  const std::regex re("GOMP_SPINCOUNT = '([0-9]+)'");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator(); ++it)
    counts.push_back((*it)[1]);
  return counts;
}

TEST(WaitPolicy, PassiveUnlessTheUserChose) {
  TempDir tmp("wait_policy");
  {
    Env env({{"OMP_DISPLAY_ENV", "verbose"}, {"OMP_WAIT_POLICY", nullptr}, {"GOMP_SPINCOUNT", nullptr},
             {"OMP_NUM_THREADS", "2"}});
    const auto r = run_cli({"--version"}, tmp);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("cuviz "), std::string::npos);
    // Started with libgomp's default, re-executed once with the passive policy.
    EXPECT_EQ(spin_counts(r.err), (std::vector<std::string>{"300000", "0"})) << r.err;
  }
  {
    Env env({{"OMP_DISPLAY_ENV", "verbose"}, {"OMP_WAIT_POLICY", "active"}, {"GOMP_SPINCOUNT", nullptr},
             {"OMP_NUM_THREADS", "2"}});
    const auto r = run_cli({"--version"}, tmp);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(spin_counts(r.err), (std::vector<std::string>{"30000000000"})) << "the user's policy, no re-execution";
  }
  {
    Env env({{"OMP_DISPLAY_ENV", "verbose"}, {"OMP_WAIT_POLICY", nullptr}, {"GOMP_SPINCOUNT", "1000"},
             {"OMP_NUM_THREADS", "2"}});
    const auto r = run_cli({"--version"}, tmp);
    EXPECT_EQ(spin_counts(r.err), (std::vector<std::string>{"1000"})) << r.err;
  }
  {
    Env env({{"OMP_DISPLAY_ENV", "verbose"}, {"OMP_WAIT_POLICY", nullptr}, {"GOMP_SPINCOUNT", nullptr},
             {"OMP_NUM_THREADS", "1"}});
    const auto r = run_cli({"--version"}, tmp);
    EXPECT_EQ(spin_counts(r.err).size(), 1u) << "one thread: no barrier waits, no re-execution";
  }
}

// The re-executed process gets the same arguments, spaces and quotes included.
TEST(WaitPolicy, ArgumentsSurviveTheReExecution) {
  TempDir tmp("wait_policy_args");
  Env env({{"OMP_WAIT_POLICY", nullptr}, {"GOMP_SPINCOUNT", nullptr}, {"OMP_NUM_THREADS", "2"}});
  const auto r = run_cli({"render", "googlenet", "--objective", "a b 'c'"}, tmp);
  EXPECT_TRUE(test::ended_with_one_error_line(r, 2, "objective 'a b 'c''"));
}

}  // namespace
}  // namespace cuviz
