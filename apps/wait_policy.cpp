#include "apps/wait_policy.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace cuviz::app {

void choose_omp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;  // the user's choice
  const char* threads = std::getenv("OMP_NUM_THREADS");
  if (threads && std::strcmp(threads, "1") == 0) return;  // one thread never waits at a barrier
  if (setenv("OMP_WAIT_POLICY", kDefaultWaitPolicy, 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Only reached when the re-execution failed (no /proc, say): run on with libgomp's default.
  // Unset it again so child processes see the environment the user gave.
  unsetenv("OMP_WAIT_POLICY");
}

}  // namespace cuviz::app
