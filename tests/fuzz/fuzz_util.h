// Shared by the libFuzzer targets in tests/fuzz/ (built and run by scripts/fuzz.sh, in CI too): the
// input as a file for the loaders that read paths, and the one rule every target checks — a
// parser either succeeds or throws cuviz::Error; any other exception, a crash, a sanitizer
// report, a leak or a hang is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/error.h"

namespace cuviz::fuzz {

// Writes the input to a per-process file under /tmp (suffix `ext`) and returns its path.
inline std::string as_file(const uint8_t* data, size_t size, const std::string& ext) {
  const std::string path = "/tmp/cuviz_fuzz_" + std::to_string(::getpid()) + ext;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  return path;
}

// Runs f; a cuviz::Error is the expected way to refuse an input.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const cuviz::Error&) {
  }
}

}  // namespace cuviz::fuzz
