// The checks every setting's value goes through, on the command line (apps/settings_cli.h) and
// when read from a file, and the conversion of the shared optimisation settings to the render
// loop's options.
#include "viz/settings.h"

#include <cmath>

#include "core/exec_context.h"
#include "viz/render.h"

namespace cuviz {

std::string number_text(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(int64_t(v));
  return cat(v);
}

std::string check_message(const char* key, const Check& check, double value) {
  if (const auto* r = std::get_if<Range>(&check)) {
    if (!(value >= r->lo && value <= r->hi))
      return cat(key, *key ? " " : "", number_text(value), " is out of range (", number_text(r->lo), " to ", number_text(r->hi),
                 ")");
  } else if (std::holds_alternative<Positive>(check)) {
    if (!(value > 0)) return cat(key, *key ? " " : "", number_text(value), " must be greater than 0");
  }
  return "";
}

std::string check_message(const char* key, const Check& check, const std::string& value) {
  if (const auto* judged = std::get_if<Judged>(&check)) {
    const std::string why = judged->why_not(value);
    return why.empty() ? why : cat(key, " '", value, "' is ", why);
  }
  const auto* one_of = std::get_if<OneOf>(&check);
  if (!one_of) return "";
  std::string list;
  for (const auto& c : one_of->choices) {
    if (c == value) return "";
    list += cat(list.empty() ? "" : ", ", c);
  }
  return cat("unknown ", key, " '", value, "' (choices: ", list, ")");
}

nlohmann::json SweepSettings::to_json() const { return settings_to_json(*this); }

SweepSettings SweepSettings::from_json(const nlohmann::json& j) { return settings_from_json<SweepSettings>(j); }

std::string SweepSettings::differences(const SweepSettings& o) const { return settings_differences(*this, o); }

RenderOptions render_options(const OptimSettings& s, Device device) {
  check_settings(s);
  RenderOptions ro;
  ro.size = s.size;
  ro.steps = s.steps;
  ro.param = parse_param_kind(s.param.c_str());
  ro.transforms = TransformSpec::parse(s.transforms);
  ro.adam.lr = float(s.lr);
  ro.seed = s.seed;
  ro.relu_override_steps = s.relu_override;
  ro.precision = parse_precision(s.precision);
  ro.device = device;
  return ro;
}

RenderOptions render_options(const RenderSettings& s, Device device) {
  check_settings(s);
  RenderOptions ro = render_options(static_cast<const OptimSettings&>(s), device);
  ro.batch = s.batch;
  ro.source = ImageSource::parse(s.start);
  return ro;
}

}  // namespace cuviz
