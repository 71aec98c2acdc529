// Errors with context. Every failure in cuviz is a cuviz::Error whose message names the op,
// the file or the layer involved, so that a test framework or the CLI can print one clear line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cuviz {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates any streamable values into one string: cat("layer ", name, " has ", n, " inputs").
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  return s.str();
}

}  // namespace cuviz

// Throws cuviz::Error with the concatenated message when `cond` is false.
#define CUVIZ_CHECK(cond, ...)                                  \
  do {                                                          \
    if (!(cond)) throw ::cuviz::Error(::cuviz::cat(__VA_ARGS__)); \
  } while (0)
