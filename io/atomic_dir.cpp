#include "io/atomic_dir.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace cuviz {

namespace fs = std::filesystem;

namespace {

// Throws unless `target` may be replaced (see the constructor).
void check_replaceable(const fs::path& target, const std::string& marker) {
  std::error_code ec;
  if (!fs::exists(target, ec)) return;
  CUVIZ_CHECK(fs::is_directory(target, ec), target.string(), " exists and is not a directory");
  const bool empty = fs::is_empty(target, ec);
  CUVIZ_CHECK(empty || fs::exists(target / marker, ec), target.string(), " exists and holds other files (no ", marker,
              "); give a new or empty directory");
}

}  // namespace

AtomicDirectory::AtomicDirectory(std::string target, std::string marker)
    : target_(std::move(target)), marker_(std::move(marker)) {
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
  CUVIZ_CHECK(!target_.empty(), "output directory: empty path");
  const fs::path t(target_);
  const fs::path parent = t.has_parent_path() ? t.parent_path() : fs::path(".");
  std::error_code ec;
  CUVIZ_CHECK(fs::is_directory(parent, ec), "output directory ", target_, ": ", parent.string(), " does not exist");
  check_replaceable(t, marker_);
  tmp_ = cat(target_, ".tmp-", getpid());
  fs::remove_all(tmp_, ec);
  CUVIZ_CHECK(fs::create_directory(tmp_, ec) && !ec, "cannot create ", tmp_, ": ", ec.message());
}

AtomicDirectory::~AtomicDirectory() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void AtomicDirectory::commit() {
  const fs::path t(target_);
  check_replaceable(t, marker_);  // checked again: the page took a while
  std::error_code ec;
  const std::string old = cat(target_, ".old-", getpid());
  if (fs::exists(t, ec)) {
    fs::rename(t, old, ec);
    CUVIZ_CHECK(!ec, "cannot move ", target_, " aside: ", ec.message());
  }
  fs::rename(tmp_, t, ec);
  if (ec) {
    std::error_code ec2;
    if (fs::exists(old, ec2)) fs::rename(old, t, ec2);
    throw Error(cat("cannot rename ", tmp_, " to ", target_, ": ", ec.message()));
  }
  committed_ = true;
  fs::remove_all(old, ec);
}

}  // namespace cuviz
