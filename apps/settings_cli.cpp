// Validators of the generated options (apps/settings_cli.h).
#include "apps/settings_cli.h"

#include <cstdlib>

namespace cuviz::app {

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
      "");
}

}  // namespace cuviz::app
