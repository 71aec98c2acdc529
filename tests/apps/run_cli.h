// Runs the built `cuviz` binary (CUVIZ_BINARY) from the app tests: arguments are quoted for the
// shell, stdout and stderr are captured to files, and the exit status is returned with them.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "loaders/loader_test_util.h"

namespace cuviz::test {

struct CliResult {
  int code = -1;
  std::string out, err;
  // The lines of stderr (without their newlines).
  std::vector<std::string> err_lines() const {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < err.size()) {
      const size_t end = err.find('\n', pos);
      lines.push_back(err.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
      if (end == std::string::npos) break;
      pos = end + 1;
    }
    return lines;
  }
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `cuviz args...` with stdout/stderr in files under `dir`. The run is hermetic: working
// directory and $HOME are `dir` and $CUVIZ_MODEL_PATH is empty, so models resolve only through
// the --model-dir the test passes, never through ./weights or ~/.cache/cuviz of the machine.
inline CliResult run_cli(const std::vector<std::string>& args, const TempDir& dir) {
  const std::string home = shell_quote(dir.path().string());
  std::string cmd = "cd " + home + " && HOME=" + home + " CUVIZ_MODEL_PATH= " + shell_quote(CUVIZ_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err);
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// The arguments that make `model` resolve from the shared weights, whatever the environment.
inline std::vector<std::string> shared_model_dir() {
  return {"--model-dir", std::string(CUVIZ_SHARED_DIR) + "/weights"};
}

// `args` followed by the shared model directory arguments (shared_model_dir).
inline std::vector<std::string> with_model_dir(std::vector<std::string> args) {
  for (const auto& a : shared_model_dir()) args.push_back(a);
  return args;
}

inline std::string shared_image(const std::string& name) {
  return std::string(CUVIZ_SHARED_DIR) + "/images/" + name;
}

// A command that ended with `code`, nothing on stdout and exactly one stderr line
// "cuviz: error: ..." containing `must_contain`.
inline ::testing::AssertionResult ended_with_one_error_line(const CliResult& r, int code,
                                                            const std::string& must_contain) {
  const auto lines = r.err_lines();
  if (r.code != code)
    return ::testing::AssertionFailure() << "exit code " << r.code << " (expected " << code << "), stderr: " << r.err;
  if (!r.out.empty()) return ::testing::AssertionFailure() << "stdout not empty: " << r.out;
  if (lines.size() != 1) return ::testing::AssertionFailure() << lines.size() << " stderr lines: " << r.err;
  if (lines[0].rfind("cuviz: error: ", 0) != 0) return ::testing::AssertionFailure() << "stderr: " << r.err;
  if (lines[0].find(must_contain) == std::string::npos)
    return ::testing::AssertionFailure() << "error lacks \"" << must_contain << "\": " << r.err;
  return ::testing::AssertionSuccess() << lines[0];
}

// A failure while running (unreadable file, unknown layer, corrupt model): exit code 1, one line.
inline ::testing::AssertionResult failed_with_one_line(const CliResult& r, const std::string& must_contain = "") {
  return ended_with_one_error_line(r, 1, must_contain);
}

// A usage error (unknown flag, bad or out-of-range value, missing option, wrong count): exit code
// 2, one line.
inline ::testing::AssertionResult usage_error(const CliResult& r, const std::string& must_contain = "") {
  return ended_with_one_error_line(r, 2, must_contain);
}

}  // namespace cuviz::test
