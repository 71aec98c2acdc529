// Labels files: synset lines split into id and names, plain lines kept whole, CRLF and a final
// newline handled, and the shared ImageNet file has the 1000 classes the reference top-5 names.
#include "io/labels.h"

#include "test_util.h"

namespace cuviz {
namespace {

TEST(Labels, ParsesSynsetAndPlainLines) {
  const auto l = parse_labels("n01440764 tench, Tinca tinca\r\nn02123045 tabby, tabby cat\nplain name\n", "mem");
  ASSERT_EQ(l.size(), 3u);  // the final newline starts no class
  EXPECT_EQ(l[0].id, "n01440764");
  EXPECT_EQ(l[0].names, "tench, Tinca tinca");
  EXPECT_EQ(l[0].short_name(), "tench");
  EXPECT_EQ(l[1].short_name(), "tabby");
  EXPECT_EQ(l[2].id, "");
  EXPECT_EQ(l[2].short_name(), "plain name");
}

TEST(Labels, EmptyAndMissingFilesAreErrors) {
  EXPECT_THROW(parse_labels("", "empty.txt"), Error);
  EXPECT_THROW(read_labels("/nonexistent/labels.txt"), Error);
}

TEST(Labels, SharedImageNetFile) {
  const auto l = read_labels(std::string(CUVIZ_SHARED_DIR) + "/weights/labels/imagenet_synset_words.txt");
  ASSERT_EQ(l.size(), 1000u);
  EXPECT_EQ(l[967].short_name(), "espresso");
  EXPECT_EQ(l[285].short_name(), "Egyptian cat");
  EXPECT_EQ(l[967].id.size(), 9u);
}

}  // namespace
}  // namespace cuviz
