// Class labels files: line i is class i. A line starting with a synset id (the letter n followed
// by eight digits, then a space) is split into id and names; any other line is all names.
#include "io/labels.h"

#include <cctype>

#include "io/atomic_file.h"
#include "core/error.h"

namespace cuviz {

std::string Label::short_name() const {
  return names.substr(0, names.find(','));
}

namespace {

bool is_synset_id(const std::string& s) {
  if (s.size() != 9 || s[0] != 'n') return false;
  for (size_t i = 1; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

std::vector<Label> parse_labels(const std::string& text, const std::string& what) {
  std::vector<Label> labels;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    Label l;
    const size_t space = line.find(' ');
    if (space != std::string::npos && is_synset_id(line.substr(0, space))) {
      l.id = line.substr(0, space);
      l.names = line.substr(space + 1);
    } else {
      l.names = line;
    }
    labels.push_back(std::move(l));
  }
  // A trailing newline ends the last line; it does not start an extra, empty class.
  CUVIZ_CHECK(!labels.empty(), "labels file ", what, " is empty");
  return labels;
}

std::vector<Label> read_labels(const std::string& path) {
  return parse_labels(read_file(path), path);
}

}  // namespace cuviz
