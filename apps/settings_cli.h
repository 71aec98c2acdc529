// The command-line options of a settings struct (viz/settings.h), generated from its field list:
// each field with a flag becomes one CLI11 option with the field's help, its default shown in
// --help, and its range or choices checked while parsing, so a bad value is a usage error
// (exit 2) with the same message a manifest holding that value gets.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <type_traits>
#include <vector>

#include "viz/settings.h"

namespace cuviz::app {

// Checks an option's text against `check` (numeric: as a number; text that is not a number is
// left to CLI11's conversion error).
CLI::Validator setting_validator(const char* key, const Check& check, bool numeric);

// A CLI11 check that runs `parse` on the option's text: the Error it throws is the usage error
// (an objective or a channel list that does not parse).
template <class F>
CLI::Validator parses_with(F parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        try {
          parse(text);
          return "";
        } catch (const Error& e) {
          return e.what();
        }
      },
      "");
}

template <class S>
void add_settings_options(CLI::App* cmd, S& s) {
  S::fields(s, [cmd](auto&& f) {
    if (!*f.flag) return;
    using T = std::remove_cvref_t<decltype(f.value)>;
    CLI::Option* opt = cmd->add_option(f.flag, f.value, f.help);
    if (f.required)
      opt->required();
    else
      opt->capture_default_str();
    if constexpr (std::is_same_v<T, std::vector<std::string>>)
      opt->allow_extra_args(false);  // one value per flag: the positionals after it stay positionals
    else
      opt->check(setting_validator(f.key, f.check, std::is_arithmetic_v<T>));
  });
}

}  // namespace cuviz::app
