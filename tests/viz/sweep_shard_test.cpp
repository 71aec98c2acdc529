// Sharded sweeps (viz/sweep_shard.h): the shares are disjoint, cover every channel and are
// balanced for N = 1..17 and uneven counts; Slurm's environment maps onto shards; shards of a
// small network, merged, equal run_sweep byte for byte; the merge is idempotent and names the
// missing channels with the shard whose share they are.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "../nn/reference_net.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/sweep_shard.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;

TEST(SweepShard, SharesAreDisjointCoveringAndBalanced) {
  for (int channels = 1; channels <= 41; channels += 4)
    for (int batch : {1, 2, 3, 8}) {
      std::vector<int> list;
      for (int c = 0; c < channels; ++c) list.push_back(3 * c + 1);  // not 0..n-1: the list is what is cut
      const auto batches = sweep_batches(list, std::min(batch, channels));
      for (int n = 1; n <= 17; ++n) {
        std::map<int, int> seen;
        size_t next = 0, fewest = SIZE_MAX, most = 0;
        for (int i = 0; i < n; ++i) {
          const auto [b0, b1] = shard_batch_range(batches.size(), ShardSpec{i, n});
          ASSERT_EQ(b0, next) << "shards must be contiguous and in order: n " << n << " i " << i;
          ASSERT_LE(b0, b1);
          next = b1;
          fewest = std::min(fewest, b1 - b0);
          most = std::max(most, b1 - b0);
          for (size_t b = b0; b < b1; ++b)
            for (int c : batches[b]) ++seen[c];
        }
        ASSERT_EQ(next, batches.size()) << "n " << n;
        ASSERT_EQ(int(seen.size()), channels) << "every channel in some share: n " << n << " batch " << batch;
        for (const auto& [c, k] : seen) ASSERT_EQ(k, 1) << "channel " << c << " in " << k << " shares, n " << n;
        EXPECT_LE(most - fewest, 1u) << "balanced to one batch: channels " << channels << " batch " << batch << " n " << n;
      }
    }
}

TEST(SweepShard, BatchesAreThoseOfTheSingleProcessSweep) {
  const auto b = sweep_batches({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0], (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(b[2], (std::vector<int>{8, 9}));
  EXPECT_THROW(sweep_batches({1}, 0), Error);
}

TEST(SweepShard, ParsesIOverNAndRefusesTheRest) {
  EXPECT_EQ(parse_shard("0/1").count, 1);
  const ShardSpec s = parse_shard("2/3");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.label(), "2/3");
  for (const char* bad : {"3/3", "1/0", "-1/3", "1", "1/", "/3", "a/3", "1/3x", "0/70000", ""})
    EXPECT_THROW(parse_shard(bad), Error) << bad;
  EXPECT_EQ(format_channel_list({0, 1, 2, 3, 7, 9, 10}), "0-3,7,9-10");
  EXPECT_EQ(parse_channel_list(format_channel_list({0, 1, 2, 5})), (std::vector<int>{0, 1, 2, 5}));
}

std::optional<ShardSpec> from_env(const std::map<std::string, std::string>& env, std::string* source = nullptr) {
  return shard_from_environment(
      [&](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      source);
}

TEST(SweepShard, SlurmEnvironmentGivesTheShard) {
  EXPECT_FALSE(from_env({}).has_value());
  // A one-task job or a one-element array is no shard.
  EXPECT_FALSE(from_env({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}}).has_value());
  EXPECT_FALSE(from_env({{"SLURM_ARRAY_TASK_COUNT", "1"}, {"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_MIN", "0"}}));
  // --array=0-3 and --array=1-4 both give 0..3 of 4; --array=0-14:2 gives 0..7 of 8.
  std::string source;
  auto a = from_env({{"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "0"}}, &source);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->label(), "2/4");
  EXPECT_NE(source.find("SLURM_ARRAY_TASK_ID=2"), std::string::npos) << source;
  a = from_env({{"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}});
  EXPECT_EQ(a->label(), "3/4");
  a = from_env({{"SLURM_ARRAY_TASK_COUNT", "8"},
                {"SLURM_ARRAY_TASK_ID", "6"},
                {"SLURM_ARRAY_TASK_MIN", "0"},
                {"SLURM_ARRAY_TASK_STEP", "2"}});
  EXPECT_EQ(a->label(), "3/8");
  // An array job wins over the tasks of its step; srun's tasks otherwise.
  a = from_env({{"SLURM_ARRAY_TASK_COUNT", "2"},
                {"SLURM_ARRAY_TASK_ID", "1"},
                {"SLURM_ARRAY_TASK_MIN", "0"},
                {"SLURM_NTASKS", "5"},
                {"SLURM_PROCID", "4"}});
  EXPECT_EQ(a->label(), "1/2");
  a = from_env({{"SLURM_NTASKS", "5"}, {"SLURM_PROCID", "4"}}, &source);
  EXPECT_EQ(a->label(), "4/5");
  EXPECT_EQ(source, "SLURM_PROCID=4 SLURM_NTASKS=5");
  // Ids that do not map onto 0..COUNT-1 (--array=1,5,6), or garbage: an error, never a guess.
  EXPECT_THROW(from_env({{"SLURM_ARRAY_TASK_COUNT", "3"}, {"SLURM_ARRAY_TASK_ID", "6"}, {"SLURM_ARRAY_TASK_MIN", "1"}}),
               Error);
  EXPECT_THROW(from_env({{"SLURM_ARRAY_TASK_COUNT", "3"}, {"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_MIN", "1"}}),
               Error);
  EXPECT_THROW(from_env({{"SLURM_ARRAY_TASK_COUNT", "3"}}), Error);
  EXPECT_THROW(from_env({{"SLURM_NTASKS", "3"}, {"SLURM_PROCID", "3"}}), Error);
}

Graph sweep_net() {
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  return g;
}

SweepOptions small_sweep(const std::string& dir) {
  SweepOptions so;
  so.settings.model = "small_net";
  so.settings.layer = "inc/output";  // 14 channels
  so.settings.size = 24;
  so.settings.steps = 6;
  so.settings.relu_override = 2;
  so.settings.seed = 7;
  for (int c = 1; c < 12; ++c) so.channels.push_back(c);  // 11 channels: batches of 3 -> 3, 3, 3, 2 (padded)
  so.batch = 3;
  so.dir = dir;
  return so;
}

TEST(SweepShard, MergedShardsEqualTheSingleProcessSweepByteForByte) {
  const Network net(sweep_net(), Device::cpu);
  const fs::path root = fs::path(::testing::TempDir()) / cat("cuviz_shard_unit_", ::getpid());
  fs::remove_all(root);
  const SweepManifest one = run_sweep(net, small_sweep((root / "one").string()));
  ASSERT_EQ(one.channels.size(), 11u);

  for (int n : {2, 3, 5}) {  // 4 batches: 2+2, 1+1+2, and 5 shards with one idle
    const std::string dir = (root / cat("n", n)).string();
    int rendered = 0;
    for (int i = n - 1; i >= 0; --i) rendered += int(run_shard_sweep(net, small_sweep(dir), ShardSpec{i, n}).sweep.channels.size());
    EXPECT_EQ(rendered, 11) << "every channel rendered once, n " << n;
    const MergeResult r = merge_sweep_shards(dir);
    EXPECT_TRUE(r.missing.empty());
    EXPECT_EQ(r.shards, n);
    ASSERT_EQ(r.manifest.channels.size(), 11u);
    EXPECT_EQ(r.manifest.total_channels, 11);
    for (const auto& [c, want] : one.channels) {
      EXPECT_EQ(read_file((fs::path(dir) / want.file).string()), read_file((root / "one" / want.file).string()))
          << "channel " << c << " n " << n;
      EXPECT_EQ(r.manifest.channels.at(c).objective, want.objective) << "channel " << c << " n " << n;
    }
    EXPECT_EQ(read_file(dir + "/contact_sheet.png"), read_file((root / "one/contact_sheet.png").string()));
    // Idempotent: a second merge writes the same three files.
    const std::string page = read_file(dir + "/index.html"), manifest = read_file(dir + "/manifest.json");
    merge_sweep_shards(dir);
    EXPECT_EQ(read_file(dir + "/index.html"), page);
    EXPECT_EQ(read_file(dir + "/manifest.json"), manifest);
    // A rerun of a finished shard renders nothing.
    const auto again = run_shard_sweep(net, small_sweep(dir), ShardSpec{0, n});
    EXPECT_EQ(read_file(dir + "/manifest.json"), manifest);
    (void)again;
  }
  fs::remove_all(root);
}

// --devices' workers: a batch goes to the worker that claims it first, exactly once; a second
// run with a fresh claims directory renders only what is not done.
TEST(SweepShard, WorkersClaimEachBatchOnce) {
  const Network net(sweep_net(), Device::cpu);
  const fs::path root = fs::path(::testing::TempDir()) / cat("cuviz_shard_claims_", ::getpid());
  fs::remove_all(root);
  const SweepManifest one = run_sweep(net, small_sweep((root / "one").string()));
  const std::string dir = (root / "w").string();
  fs::create_directories(root / "claims1");
  // Worker 1 has already claimed batch 2 (channels 7-9): worker 0 renders batches 0, 1 and 3.
  fs::create_directories(root / "claims1");
  { std::ofstream((root / "claims1" / "2").string()); }
  const ShardManifest w0 = run_worker_sweep(net, small_sweep(dir), ShardSpec{0, 2}, (root / "claims1").string());
  EXPECT_TRUE(w0.dynamic);
  EXPECT_EQ(w0.sweep.channels.size(), 8u);
  EXPECT_EQ(w0.sweep.channels.count(7), 0u);
  EXPECT_TRUE(merge_sweep_shards(dir).missing == (std::vector<int>{7, 8, 9}));
  // The next run (fresh claims): worker 1 picks up batch 2 alone; the gallery is the single-process one.
  fs::create_directories(root / "claims2");
  const ShardManifest w1 = run_worker_sweep(net, small_sweep(dir), ShardSpec{1, 2}, (root / "claims2").string());
  EXPECT_EQ(w1.sweep.channels.size(), 3u);
  const ShardManifest again = run_worker_sweep(net, small_sweep(dir), ShardSpec{0, 2}, (root / "claims2").string());
  EXPECT_EQ(again.sweep.channels.size(), 8u) << "nothing new for worker 0";
  const MergeResult r = merge_sweep_shards(dir);
  ASSERT_TRUE(r.missing.empty());
  for (const auto& [c, want] : one.channels)
    EXPECT_EQ(read_file((fs::path(dir) / want.file).string()), read_file((root / "one" / want.file).string())) << c;
  EXPECT_THROW(run_worker_sweep(net, small_sweep(dir), ShardSpec{0, 2}, (root / "absent").string()), Error);
  fs::remove_all(root);
}

// --layer a,b / all: the layer list, and the (layer, batch) shares: disjoint, covering and
// balanced over the layers' batches together; merged, every layer equals its single-process sweep.
TEST(SweepShard, SeveralLayersShardOverTheirBatchesTogether) {
  const Network net(sweep_net(), Device::cpu);
  const auto all = sweep_layer_names(net, "all");
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all.front(), "conv1");  // conv and concat outputs in graph order
  EXPECT_NE(std::find(all.begin(), all.end(), "inc/output"), all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), "pool1"), all.end());
  EXPECT_EQ(sweep_layer_names(net, "inc/output,conv1"), (std::vector<std::string>{"inc/output", "conv1"}));
  EXPECT_THROW(sweep_layer_names(net, "conv1,,inc/output"), Error);
  EXPECT_THROW(sweep_layer_names(net, "conv1,conv1"), Error);

  SweepOptions o = small_sweep("");
  o.channels = {0, 1, 2, 3, 4};  // conv1 has 6 channels, inc/output 14: 5 of each, batches 3 + 2
  const auto layout = multi_layer_layout(net, o, {"conv1", "inc/output"});
  ASSERT_EQ(layout.size(), 2u);
  EXPECT_EQ(layout[1].batch, 3);
  for (int n = 1; n <= 6; ++n) {
    std::map<std::pair<size_t, size_t>, int> seen;  // (layer, batch) -> shares
    size_t fewest = SIZE_MAX, most = 0;
    for (int i = 0; i < n; ++i) {
      size_t mine = 0;
      for (size_t l = 0; l < layout.size(); ++l) {
        const auto [b0, b1] = multi_layer_shard_range(layout, l, ShardSpec{i, n});
        for (size_t b = b0; b < b1; ++b) ++seen[{l, b}];
        mine += b1 - b0;
      }
      fewest = std::min(fewest, mine);
      most = std::max(most, mine);
    }
    EXPECT_EQ(seen.size(), 4u) << n;
    for (const auto& [lb, k] : seen) EXPECT_EQ(k, 1) << n;
    EXPECT_LE(most - fewest, 1u) << n;
  }
  // 3 shards (the middle one spans both layers), merged, against the single-process sweep.
  const fs::path root = fs::path(::testing::TempDir()) / cat("cuviz_shard_layers_", ::getpid());
  fs::remove_all(root);
  o.dir = (root / "one").string();
  run_multi_layer_sweep(net, o, layout);
  o.dir = (root / "three").string();
  for (int i = 0; i < 3; ++i) run_multi_layer_shard(net, o, layout, ShardSpec{i, 3});
  const MultiMergeResult r = merge_multi_layer(o.dir);
  EXPECT_TRUE(r.missing.empty());
  EXPECT_EQ(r.channels, 10);
  for (const auto& l : layout)
    for (int c : l.channels) {
      const std::string f = layer_file_stem(l.layer) + "/" + channel_file(l.layer, c);
      EXPECT_EQ(read_file((root / "three" / f).string()), read_file((root / "one" / f).string())) << f;
    }
  EXPECT_EQ(read_file((root / "three/index.html").string()), read_file((root / "one/index.html").string()));
  // Another layer list into the same directory is refused.
  EXPECT_THROW(run_multi_layer_shard(net, o, multi_layer_layout(net, o, {"conv1"}), ShardSpec{0, 1}), Error);
  fs::remove_all(root);
}

TEST(SweepShard, MergeNamesMissingChannelsAndTheirShard) {
  const Network net(sweep_net(), Device::cpu);
  const fs::path root = fs::path(::testing::TempDir()) / cat("cuviz_shard_missing_", ::getpid());
  fs::remove_all(root);
  const std::string dir = (root / "d").string();
  run_shard_sweep(net, small_sweep(dir), ShardSpec{0, 3});  // batches 0 (channels 1-3) of 4
  run_shard_sweep(net, small_sweep(dir), ShardSpec{2, 3});  // batches 2-3 (channels 7-11)
  const MergeResult r = merge_sweep_shards(dir);
  EXPECT_EQ(r.missing, (std::vector<int>{4, 5, 6}));
  for (int c : r.missing) EXPECT_EQ(r.missing_owner.at(c), "1/3") << c;
  EXPECT_EQ(r.manifest.channels.size(), 8u);
  EXPECT_EQ(r.manifest.total_channels, 11);
  // Shard 1 with other settings is refused before it renders; with the same ones it completes the set.
  SweepOptions other = small_sweep(dir);
  other.settings.steps = 7;
  EXPECT_THROW(run_shard_sweep(net, other, ShardSpec{1, 3}), Error);
  run_shard_sweep(net, small_sweep(dir), ShardSpec{1, 3});
  EXPECT_TRUE(merge_sweep_shards(dir).missing.empty());
  // Another layout for an existing shard is refused (its batches would not be the others').
  SweepOptions rebatched = small_sweep(dir);
  rebatched.batch = 4;
  EXPECT_THROW(run_shard_sweep(net, rebatched, ShardSpec{1, 3}), Error);
  // No shard manifests: an error.
  fs::create_directories(root / "empty");
  EXPECT_THROW(merge_sweep_shards((root / "empty").string()), Error);
  fs::remove_all(root);
}

}  // namespace
}  // namespace cuviz
