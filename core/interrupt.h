// Ctrl-C (SIGINT) and SIGTERM during long work: the first signal only raises a flag, which the
// long loops poll between steps (viz/render.cpp render_loop) and between batches (viz/sweep.cpp),
// so a render stops before writing anything and a sweep stops with its manifest and gallery
// as they were after its last finished batch; main.cpp reports it on one line and exits with
// 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as shells do. A second signal
// ends the process at once (the default action).
//
// The flag is only honoured inside an InterruptScope (a loop that polls it); outside one (a
// command that never polls, or the setup before the loop) a signal keeps its default action, so
// Ctrl-C never waits for work that would not notice it.
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace cuviz {

// Installs the SIGINT and SIGTERM handlers (main.cpp, once; async-signal-safe: they touch only
// lock-free atomics, signal() and raise()).
void install_interrupt_handlers();

// The signal received inside a scope (SIGINT or SIGTERM), or 0.
int interrupt_signal();
// "SIGINT", "SIGTERM" (or "signal N").
std::string signal_name(int sig);

// Thrown by check_interrupt. Not a cuviz::Error, so that nothing that handles errors swallows it;
// main.cpp catches it. `resume` (when not empty) is what the user reruns to finish the work,
// printed after the message; `detail` says what was kept.
class Interrupted : public std::exception {
 public:
  Interrupted(int sig, std::string detail, bool resumable = false)
      : sig_(sig), detail_(std::move(detail)), resumable_(resumable) {}
  int signal() const { return sig_; }
  const std::string& detail() const { return detail_; }
  bool resumable() const { return resumable_; }
  const char* what() const noexcept override { return detail_.c_str(); }

 private:
  int sig_;
  std::string detail_;
  bool resumable_;
};

// Throws Interrupted(signal, detail) when a signal has arrived.
void check_interrupt(const std::string& detail);

// While one exists, SIGINT/SIGTERM set the flag instead of ending the process. Nests.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

}  // namespace cuviz
