// The one progress bar of render and sweep (apps/progress.h), driven with a fake clock: in place
// on a terminal, one line per kLogInterval in a log, the final line always, nothing when quiet.
#include "apps/progress.h"

#include <algorithm>
#include <cstdio>

#include "test_util.h"

namespace cuviz::app {
namespace {

// A ProgressBar writing into a temporary file, with the time under the test's control.
struct Captured {
  std::FILE* file = std::tmpfile();
  double now = 0;
  ProgressBar bar;
  Captured(bool quiet, bool terminal) : bar(quiet, file, terminal, [this] { return now; }) {}
  ~Captured() { std::fclose(file); }
  std::string text() {
    std::fflush(file);
    std::rewind(file);
    std::string s;
    for (int c; (c = std::fgetc(file)) != EOF;) s += char(c);
    return s;
  }
};

size_t count(const std::string& s, char c) { return size_t(std::count(s.begin(), s.end(), c)); }

TEST(ProgressBar, LogGetsTheFirstLineThenOneEveryIntervalAndTheLast) {
  Captured c(false, false);
  c.bar.update(0.0, "0/10");
  c.now = 1;
  c.bar.update(0.1, "1/10");  // too soon: dropped
  c.now = ProgressBar::kLogInterval + 0.5;
  c.bar.update(0.5, "5/10");
  c.now += 1;
  c.bar.update(0.9, "9/10");  // too soon: dropped
  c.bar.update(1.0, "10/10", true);  // the last: always
  const std::string out = c.text();
  EXPECT_EQ(out,
            "[........................] 0/10\n"
            "[############............] 5/10\n"
            "[########################] 10/10\n");
  EXPECT_EQ(count(out, '\r'), 0u);
}

TEST(ProgressBar, TerminalRedrawsInPlaceAndBlanksWhatAShorterLineLeaves) {
  Captured c(false, true);
  c.bar.update(0.25, "long text here");
  c.bar.update(0.5, "short");  // no time passes: a terminal is redrawn anyway
  c.bar.update(1.0, "done", true);
  const std::string out = c.text();
  EXPECT_EQ(count(out, '\r'), 3u);
  EXPECT_EQ(count(out, '\n'), 1u) << "one line in all, ended by the final update";
  EXPECT_EQ(out.back(), '\n');
  const std::string first = "\r[######..................] long text here";
  ASSERT_EQ(out.rfind(first, 0), 0u) << out;
  // "short" is 9 characters shorter than "long text here": 9 blanks erase the rest.
  EXPECT_NE(out.find("\r[############............] short" + std::string(9, ' ') + "\r"), std::string::npos) << out;
}

TEST(ProgressBar, QuietPrintsNothing) {
  Captured c(true, false);
  c.bar.update(0.5, "x");
  c.bar.update(1.0, "y", true);
  EXPECT_EQ(c.text(), "");
}

TEST(ProgressBar, FractionIsClamped) {
  Captured c(false, false);
  c.bar.update(1.7, "over", true);
  EXPECT_EQ(c.text(), "[########################] over\n");
}

TEST(FormatSeconds, ReadsLikeAClock) {
  EXPECT_EQ(format_seconds(42.4), "42s");
  EXPECT_EQ(format_seconds(125), "2m05s");
  EXPECT_EQ(format_seconds(3725), "1h02m");
  EXPECT_EQ(format_seconds(-1), "?");
  EXPECT_EQ(format_seconds(1.0 / 0.0), "?");
}

}  // namespace
}  // namespace cuviz::app
