// Class labels: the ImageNet synset words file, one class per line, `nXXXXXXXX name, name, ...`
// (index = line number), or plain one-name-per-line files.
#pragma once

#include <string>
#include <vector>

namespace cuviz {

struct Label {
  std::string id;     // the synset id ("n07920052"), empty when the line has none
  std::string names;  // the rest of the line ("espresso" or "tabby, tabby cat")
  // The first of the comma-separated names ("tabby").
  std::string short_name() const;
};

// Reads a labels file; throws cuviz::Error naming the file when it cannot be read or has no line.
std::vector<Label> read_labels(const std::string& path);
// Parses the text of a labels file; `what` names the source in error messages.
std::vector<Label> parse_labels(const std::string& text, const std::string& what);

}  // namespace cuviz
