// The one HTML helper the pages cuviz writes share (sweep gallery, attribute, trace, groups,
// facets): text escaped for an HTML element or a double-quoted attribute.
#pragma once

#include <string>

namespace cuviz {

// `s` with & < > " replaced by their character references.
std::string html_escape(const std::string& s);

}  // namespace cuviz
