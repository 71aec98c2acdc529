// Atomic whole-file writes (temporary name in the target's directory, then rename(2), which
// replaces the target in one step on POSIX file systems) and whole-file reads.
#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cuviz {

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = cat(path, ".tmp.", ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  CUVIZ_CHECK(f != nullptr, "cannot write ", path, ": ", std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0;
  const int err = errno;
  std::fclose(f);
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error(cat("writing ", path, " failed: ", std::strerror(err)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_err = errno;
    std::remove(tmp.c_str());
    throw Error(cat("cannot rename ", tmp, " to ", path, ": ", std::strerror(rename_err)));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CUVIZ_CHECK(in, "cannot read ", path, ": ", std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  CUVIZ_CHECK(!in.bad(), "reading ", path, " failed");
  return s.str();
}

}  // namespace cuviz
