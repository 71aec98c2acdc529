// libFuzzer target: manifest.json of a sweep being resumed (SweepManifest::load, viz/gallery.cpp).
// The input is written as DIR/manifest.json of a per-process folder. Either it loads into a
// manifest cuviz could have written (channel numbers >= 0 and keyed by themselves, every file the
// sweep's own name for that channel, so a resume can never read or overwrite a path outside the
// sweep folder; counts and times >= 0), or it is refused with one cuviz::Error. Anything else
// (another exception, a manifest that breaks those rules, a sanitizer report) is a finding.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz_util.h"
#include "viz/gallery.h"

namespace {

const std::string& folder() {
  static const std::string dir = [] {
    const std::string d = "/tmp/cuviz_fuzz_manifest_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "manifest_fuzz: a loaded manifest breaks a rule: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::ofstream(folder() + "/manifest.json", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  cuviz::fuzz::expect_clean([&] {
    const std::optional<cuviz::SweepManifest> m = cuviz::SweepManifest::load(folder());
    if (!m) return;
    require(m->total_channels >= 0, "total_channels < 0");
    require(m->render_seconds >= 0, "render_seconds < 0");
    for (const auto& [c, r] : m->channels) {
      require(c >= 0, "a negative channel");
      require(r.channel == c, "a channel filed under another number");
      require(r.file == cuviz::channel_file(m->settings.layer, c), "a file that is not the sweep's own name");
    }
  });
  return 0;
}
