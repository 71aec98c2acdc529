#include "io/html.h"

#include <gtest/gtest.h>

namespace cuviz {
namespace {

TEST(Html, EscapesTheFourMarkupCharactersAndNothingElse) {
  EXPECT_EQ(html_escape("inception_4c/output · \"a\" <b> & c'"),
            "inception_4c/output · &quot;a&quot; &lt;b&gt; &amp; c'");
  EXPECT_EQ(html_escape(""), "");
}

}  // namespace
}  // namespace cuviz
