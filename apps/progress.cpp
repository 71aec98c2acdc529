// The progress line (apps/progress.h).
#include "apps/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"

namespace cuviz::app {

std::string format_seconds(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s);
  if (t >= 3600) return cat(t / 3600, "h", (t / 60) % 60 < 10 ? "0" : "", (t / 60) % 60, "m");
  if (t >= 60) return cat(t / 60, "m", t % 60 < 10 ? "0" : "", t % 60, "s");
  return cat(t, "s");
}

namespace {
double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ProgressBar::ProgressBar(bool quiet) : ProgressBar(quiet, stderr, ::isatty(2) != 0, steady_seconds) {}

ProgressBar::ProgressBar(bool quiet, std::FILE* out, bool terminal, std::function<double()> clock)
    : quiet_(quiet), terminal_(terminal), out_(out), clock_(std::move(clock)) {}

ProgressBar::~ProgressBar() {
  if (!quiet_ && terminal_ && last_width_ > 0) std::fputc('\n', out_);
}

void ProgressBar::update(double fraction, const std::string& text, bool final) {
  if (quiet_) return;
  const double now = clock_();
  if (!terminal_ && !final && drawn_ && now - last_drawn_ < kLogInterval) return;
  drawn_ = true;
  last_drawn_ = now;
  constexpr int kWidth = 24;
  const int filled = int(std::clamp(fraction, 0.0, 1.0) * kWidth + 0.5);
  // Appended piece by piece: `"[" + std::string(...)` trips GCC 12's -Wrestrict false positive.
  std::string line;
  line.reserve(kWidth + 3 + text.size());
  line += '[';
  line.append(size_t(filled), '#');
  line.append(size_t(kWidth - filled), '.');
  line += "] ";
  line += text;
  if (terminal_) {
    const size_t width = line.size();
    if (width < last_width_) line.append(last_width_ - width, ' ');
    last_width_ = final ? 0 : width;
    std::fprintf(out_, "\r%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

}  // namespace cuviz::app
