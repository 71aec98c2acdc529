// The SIGINT/SIGTERM flag (core/interrupt.h). The handler runs between any two instructions of
// the program, so it may only touch lock-free atomics and call async-signal-safe functions
// (signal, raise: POSIX.1 signal-safety(7)).
#include "core/interrupt.h"

#include <atomic>
#include <csignal>

#include "core/error.h"

namespace cuviz {

namespace {

std::atomic<int> g_signal{0};  // the first signal received inside a scope
std::atomic<int> g_scopes{0};  // InterruptScopes alive
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

extern "C" void on_signal(int sig) {
  // Outside a polling loop, or a second signal: the default action (the process ends by the
  // signal, as it would without a handler).
  if (g_scopes.load() == 0 || g_signal.load() != 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal.store(sig);
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

int interrupt_signal() { return g_signal.load(); }

std::string signal_name(int sig) {
  if (sig == SIGINT) return "SIGINT";
  if (sig == SIGTERM) return "SIGTERM";
  return cat("signal ", sig);
}

void check_interrupt(const std::string& detail) {
  if (const int sig = g_signal.load()) throw Interrupted(sig, detail);
}

InterruptScope::InterruptScope() { g_scopes.fetch_add(1); }
InterruptScope::~InterruptScope() { g_scopes.fetch_sub(1); }

}  // namespace cuviz
