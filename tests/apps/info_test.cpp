// `cuviz info`: the layer table of BVLC GoogLeNet at 224 and its totals, checked against the
// published figures (6.99 M parameters, 1.58 G multiply-accumulates with the deploy head) and
// against the sum of the table's own rows.
#include <sstream>

#include "test_util.h"
#include "apps/run_cli.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

struct Row {
  std::string name, type;
  int64_t params = 0, macs = 0;
};

// Parses the table: "name type [n, c, h, w] params macs" rows and the final "total params macs".
std::vector<Row> parse_rows(const std::string& out, Row& total) {
  std::vector<Row> rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Row r;
    if (!(ls >> r.name)) continue;
    if (r.name == "total") {
      ls >> total.params >> total.macs;
      continue;
    }
    const size_t close = line.find(']');
    if (line.find('[') == std::string::npos || close == std::string::npos || r.name == "layer") continue;
    ls >> r.type;
    std::istringstream tail(line.substr(close + 1));
    if (tail >> r.params >> r.macs) rows.push_back(r);
  }
  return rows;
}

TEST(InfoCommand, GoogLeNetTotals) {
  TempDir dir("info");
  std::vector<std::string> args = {"info", "googlenet"};
  for (const auto& a : test::shared_model_dir()) args.push_back(a);
  const auto r = run_cli(args, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  Row total;
  const auto rows = parse_rows(r.out, total);
  ASSERT_GT(rows.size(), 100u) << r.out;
  int64_t params = 0, macs = 0;
  for (const auto& row : rows) {
    params += row.params;
    macs += row.macs;
  }
  EXPECT_EQ(params, total.params);
  EXPECT_EQ(macs, total.macs);
  // Published: 6.99 M parameters and 1.58 G MACs (BVLC deploy net, 224 x 224, no aux heads).
  EXPECT_GE(total.params, 6'990'000);
  EXPECT_LT(total.params, 7'000'000);
  EXPECT_GE(total.macs, 1'580'000'000);
  EXPECT_LT(total.macs, 1'590'000'000);
  EXPECT_NE(r.out.find("[1, 64, 112, 112]"), std::string::npos);  // conv1/7x7_s2 at 224
  EXPECT_NE(r.out.find("[1, 1000, 1, 1]"), std::string::npos);    // prob
  // conv1/7x7_s2: 64 x 3 x 7 x 7 weights + 64 biases; 64*112*112 outputs x 3*7*7 MACs each.
  ASSERT_EQ(rows.front().name, "conv1/7x7_s2");
  EXPECT_EQ(rows.front().params, 64 * 3 * 7 * 7 + 64);
  EXPECT_EQ(rows.front().macs, int64_t(64) * 112 * 112 * 3 * 7 * 7);
}

TEST(InfoCommand, SizeChangesShapesAndMacs) {
  TempDir dir("info");
  std::vector<std::string> args = {"info", "squeezenet", "--size", "259"};
  for (const auto& a : test::shared_model_dir()) args.push_back(a);
  const auto big = run_cli(args, dir);
  ASSERT_EQ(big.code, 0) << big.err;
  args[3] = "227";
  const auto base = run_cli(args, dir);
  ASSERT_EQ(base.code, 0) << base.err;
  Row tb, tbase;
  parse_rows(big.out, tb);
  parse_rows(base.out, tbase);
  EXPECT_EQ(tb.params, tbase.params);  // SqueezeNet is fully convolutional
  EXPECT_GT(tb.macs, tbase.macs);
  EXPECT_NE(big.out.find("input [1, 3, 259, 259]"), std::string::npos) << big.out;
}

}  // namespace
}  // namespace cuviz
