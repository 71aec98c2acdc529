// Atomic whole-file writes (temporary name in the target's directory, then rename(2), which
// replaces the target in one step on POSIX file systems) and whole-file reads.
#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cuviz {

void write_file_atomic(const std::string& path, std::string_view bytes) {
  std::error_code ec;
  CUVIZ_CHECK(!std::filesystem::is_directory(path, ec), "cannot write ", path, ": it is a directory");
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

void write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> tmps;
  auto remove_tmps = [&] {
    for (const auto& t : tmps) std::remove(t.c_str());
  };
  for (const auto& [path, bytes] : files) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      remove_tmps();
      throw Error(cat("cannot write ", path, ": it is a directory"));
    }
    const std::string tmp = cat(path, ".tmp.", ::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) {
      const int err = errno;
      remove_tmps();
      throw Error(cat("cannot write ", path, ": ", std::strerror(err)));
    }
    tmps.push_back(tmp);
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0;
    const int err = errno;
    std::fclose(f);
    if (!ok) {
      remove_tmps();
      throw Error(cat("writing ", path, " failed: ", std::strerror(err)));
    }
  }
  for (size_t i = 0; i < files.size(); ++i)
    if (std::rename(tmps[i].c_str(), files[i].first.c_str()) != 0) {
      const int err = errno;
      for (size_t j = i; j < tmps.size(); ++j) std::remove(tmps[j].c_str());
      throw Error(cat("cannot rename ", tmps[i], " to ", files[i].first, ": ", std::strerror(err)));
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
