// Atomic file output: every file cuviz writes goes to a temporary name in the same directory
// and is renamed over the target only once complete, so a crash, a Ctrl-C or an error never
// leaves a half-written file under the real name.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cuviz {

// Writes `bytes` to `path` atomically (temporary file + rename); throws cuviz::Error naming the
// path on any failure and removes the temporary file.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Writes a group of files (path, bytes) all or none: every file goes to its temporary name
// first; only when all are complete are they renamed over their targets. A failure removes
// every temporary and leaves the targets as they were (a failed rename, after all writes
// succeeded, is the only case that leaves some targets renamed and the rest untouched).
void write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files);

// Reads a whole file; throws cuviz::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace cuviz
