// Atomic directory output (the directory form of io/atomic_file.h): a command that writes a page
// of several files builds it in a temporary sibling directory and renames it over the target only
// once every file is written, so an error never leaves a partial page under the real name.
#pragma once

#include <string>

namespace cuviz {

class AtomicDirectory {
 public:
  // Prepares `target`: its parent must exist; `target` itself must not exist, or be an empty
  // directory, or a directory holding `marker` (an earlier output of the same command, which
  // commit() replaces). Throws naming the path otherwise, before anything is written. Creates the
  // temporary directory `target`.tmp-<pid> beside it.
  AtomicDirectory(std::string target, std::string marker);
  // Removes the temporary directory unless committed.
  ~AtomicDirectory();
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  // Where to write the files.
  const std::string& path() const { return tmp_; }
  // Replaces `target` with the temporary directory (an earlier output is moved aside, the new
  // one renamed in, the old one removed).
  void commit();

 private:
  std::string target_, marker_, tmp_;
  bool committed_ = false;
};

}  // namespace cuviz
