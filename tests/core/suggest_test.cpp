// core/suggest.h: the edit distance on known pairs, the did-you-mean suffix (closest first, ties in
// the candidates' order, limit and count respected, an exact match never offered) and the listing.
#include <gtest/gtest.h>

#include "core/suggest.h"

namespace cuviz {
namespace {

TEST(Suggest, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "ab"), 2u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // k->s, e->i, +g
  EXPECT_EQ(edit_distance("sitting", "kitten"), 3u);
  EXPECT_EQ(edit_distance("chanel", "channel"), 1u);
  EXPECT_EQ(edit_distance("deepdraem", "deepdream"), 2u);  // a transposition is two edits
  EXPECT_EQ(edit_distance("inception_4c/outptu", "inception_4c/output"), 2u);
}

TEST(Suggest, DidYouMeanNamesTheClosestWithinTheLimit) {
  const std::vector<std::string> names = {"conv10", "conv2", "conv1", "fc", "pool1"};
  // conv2 and conv1 are 1 edit from conv7 (the candidates' order on the tie), conv10 is 2: last.
  EXPECT_EQ(did_you_mean("conv7", names, 2, 3), "; did you mean conv2 or conv1 or conv10?");
  EXPECT_EQ(did_you_mean("conv7", names, 2, 1), "; did you mean conv2?");
  EXPECT_EQ(did_you_mean("conv7", names, 1, 5), "; did you mean conv2 or conv1?");
  EXPECT_EQ(did_you_mean("conv1x", names, 1, 3), "; did you mean conv10 or conv1?");  // conv2 is 2 edits
  EXPECT_EQ(did_you_mean("zzzzzz", names, 2, 3), "");
  EXPECT_EQ(did_you_mean("fc", names, 2, 3), "") << "an exact match is not a suggestion; nothing else is close";
  EXPECT_EQ(did_you_mean("x", {}, 2, 3), "");
}

TEST(Suggest, ListingStopsAtTheMaximumAndCountsTheRest) {
  EXPECT_EQ(listing({}), "");
  EXPECT_EQ(listing({"a"}), "a");
  EXPECT_EQ(listing({"a", "b", "c"}, 3), "a, b, c");
  EXPECT_EQ(listing({"a", "b", "c", "d", "e"}, 2), "a, b ... (3 more)");
}

}  // namespace
}  // namespace cuviz
