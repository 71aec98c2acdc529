// weights/fetch.sh without network: argument errors and the offline failure path (a proxy on a
// closed local port makes every download fail the same way on any machine, online or not).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "loader_test_util.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

struct FetchRun {
  int rc;
  std::string output;
};

FetchRun fetch(const std::string& args, const TempDir& dir) {
  const std::string log = dir.file("log.txt");
  const std::string cmd = "env CUVIZ_WEIGHTS_DIR='" + dir.file("w") +
                          "' http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 "
                          "HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 bash '" +
                          std::string(CUVIZ_SOURCE_DIR) + "/weights/fetch.sh' " + args + " > '" + log + "' 2>&1";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

TEST(FetchScript, ArgumentErrors) {
  TempDir dir("fetch");
  FetchRun r = fetch("", dir);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.output.find("usage:"), std::string::npos) << r.output;
  r = fetch("resnet50", dir);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.output.find("unknown model 'resnet50'"), std::string::npos) << r.output;
}

TEST(FetchScript, OfflineFailsClearlyAndLeavesNoFinishedFile) {
  TempDir dir("fetch");
  const FetchRun r = fetch("squeezenet", dir);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.output.find("failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("offline?"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("squeezenet_v1.1/squeezenet_v1.1.caffemodel"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("w/squeezenet_v1.1/squeezenet_v1.1.caffemodel")));
}

}  // namespace
}  // namespace cuviz
