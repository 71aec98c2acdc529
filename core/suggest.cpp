// Suggestions for mistyped names (core/suggest.h).
#include "core/suggest.h"

#include <algorithm>
#include <utility>

#include "core/error.h"

namespace cuviz {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);  // row[j]: distance of a[0..i) to b[0..j)
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates, size_t limit,
                         size_t max_shown) {
  std::vector<std::pair<size_t, const std::string*>> close;
  for (const auto& c : candidates)
    if (const size_t d = edit_distance(name, c); d > 0 && d <= limit) close.emplace_back(d, &c);
  std::stable_sort(close.begin(), close.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::string s;
  for (size_t i = 0; i < close.size() && i < max_shown; ++i) s += cat(i == 0 ? "; did you mean " : " or ", *close[i].second);
  return s.empty() ? s : s + "?";
}

std::string listing(const std::vector<std::string>& names, size_t max_listed) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < max_listed; ++i) s += cat(i ? ", " : "", names[i]);
  if (names.size() > max_listed) s += cat(" ... (", names.size() - max_listed, " more)");
  return s;
}

}  // namespace cuviz
