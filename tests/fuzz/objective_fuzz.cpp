// libFuzzer target: the objective-expression parser (viz/objective.cpp), and the printer on
// every expression that parses (its text must parse again).
#include "fuzz_util.h"
#include "viz/objective.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cuviz::fuzz::expect_clean([&] {
    const cuviz::Objective o = cuviz::parse_objective(text);
    cuviz::parse_objective(o.str());
  });
  return 0;
}
