// The one progress line of every long-running command (render, sweep): on a terminal a bar
// redrawn in place; otherwise (logs, CI, a pipe) a line at most every few seconds, so a log keeps
// a readable trace instead of thousands of carriage returns; nothing with -q.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace cuviz::app {

// 42 -> "42s", 125 -> "2m05s", 3725 -> "1h02m"; "?" when unknown (negative or not finite).
std::string format_seconds(double seconds);

class ProgressBar {
 public:
  // Seconds between two lines when the output is not a terminal.
  static constexpr double kLogInterval = 5.0;

  // Draws on stderr, in place when stderr is a terminal; `quiet`: draws nothing.
  explicit ProgressBar(bool quiet);
  // For tests: draws on `out`, in place when `terminal`, reading the time from `clock` (seconds).
  ProgressBar(bool quiet, std::FILE* out, bool terminal, std::function<double()> clock);

  // A bar left open on a terminal (the work ended by an error or an interrupt) is ended with a
  // newline, so the error line that follows starts on a line of its own.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `fraction` of the work done (clamped to [0, 1]) and the text after the bar. `final`: the last
  // update, always drawn, ending the line. On a terminal every update redraws the line; otherwise
  // the first update, the final one, and one at least kLogInterval seconds after the last drawn.
  void update(double fraction, const std::string& text, bool final = false);

 private:
  bool quiet_, terminal_;
  std::FILE* out_;
  std::function<double()> clock_;
  double last_drawn_ = 0;
  bool drawn_ = false;
  size_t last_width_ = 0;  // of the line on the terminal, to blank what a shorter line leaves
};

}  // namespace cuviz::app
