// "Did you mean" for names a user typed: the Levenshtein distance, the closest candidates as a
// message suffix, and a bounded listing of the names there are. Network (unknown layer or blob)
// and the objective parser (unknown function) build their error messages from these.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cuviz {

// Levenshtein distance: the fewest single-character insertions, deletions and substitutions
// that turn `a` into `b`.
size_t edit_distance(std::string_view a, std::string_view b);

// "; did you mean A or B?" naming up to `max_shown` candidates within `limit` edits of `name`,
// closest first (ties in the candidates' order); a candidate equal to `name` is never suggested.
// Empty when none is close enough.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates, size_t limit,
                         size_t max_shown);

// "a, b, c ... (N more)": the first `max_listed` names, then how many were left out.
std::string listing(const std::vector<std::string>& names, size_t max_listed = 60);

}  // namespace cuviz
