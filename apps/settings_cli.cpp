// Validators of the generated options (apps/settings_cli.h).
#include "apps/settings_cli.h"

#include <cstdlib>

namespace cuviz::app {

namespace {
// What --help shows after the type, as CLI11's own validators do: ":{fourier,pixel}", ":[8 - 4096]".
std::string describe(const Check& check) {
  if (const auto* r = std::get_if<Range>(&check)) return cat("[", number_text(r->lo), " - ", number_text(r->hi), "]");
  if (std::holds_alternative<Positive>(check)) return "POSITIVE";
  if (const auto* o = std::get_if<OneOf>(&check)) {
    std::string out;
    for (const auto& c : o->choices) out += cat(out.empty() ? "{" : ",", c);
    return out + "}";
  }
  if (const auto* j = std::get_if<Judged>(&check)) return j->shown;
  return "";
}
}  // namespace

CLI::Validator setting_validator(const char* key, const Check& check, bool numeric) {
  const std::string name = key;
  return CLI::Validator(
      [name, check, numeric](std::string& text) -> std::string {
        if (!numeric) return check_message(name.c_str(), check, text);
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return "";  // CLI11 reports the failed conversion
        // The flag already names the setting: "--size: 4 is out of range (8 to 4096)".
        return check_message("", check, v);
      },
      describe(check));
}

}  // namespace cuviz::app
