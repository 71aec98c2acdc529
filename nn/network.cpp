// Network planning and execution: SSA values over the graph's blobs, truncation to the requested
// outputs, memory layout (in-place ReLU, concat branches in their slice, flatten/dropout as views)
// in one arena, forward, and backward to the input, where d(value) = seed + sum of the
// contributions of every layer that reads it (inception fan-out sums its four branches).
#include "nn/network.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "kernels/add.h"
#include "kernels/conv2d.h"
#include "kernels/cuda_ops.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "core/cuda_runtime.h"
#include "core/profiler.h"
#include "core/suggest.h"
#include "nn/layer_ops.h"

namespace cuviz {

namespace {

std::atomic<uint64_t> next_network_id{1};

// The names within a quarter of `name`'s length (at least 2 edits), the three closest.
std::string suggestions(std::string_view name, const std::vector<std::string>& candidates) {
  return did_you_mean(name, candidates, std::max<size_t>(2, name.size() / 4), 3);
}

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s;
  for (size_t i = 0; i < shapes.size(); ++i) s += cat(i ? ", " : "", shapes[i].str());
  return s;
}

// A flat region of `count` floats as a shape: {1, 1, count / 64, 64}. The plan's flat regions (all
// activations, all gradients, the scratch) are made of whole arena allocations, multiples of
// Arena::kAlign bytes (64 floats); {1, 1, 1, count} would overflow int past 2^31 floats (8 GiB,
// e.g. the gradients of a 512-image batch at 224 px).
Shape flat_shape(int64_t count) {
  constexpr int64_t kRow = Arena::kAlign / sizeof(float);
  CUVIZ_CHECK(count % kRow == 0 && count / kRow <= INT32_MAX, "plan: a flat region of ", count,
              " floats is not a whole number of ", kRow, "-float rows below 2^31 rows");
  return Shape{1, 1, int(count / kRow), int(kRow)};
}

}  // namespace

Network::Network(Graph graph, Device device) : graph_(std::move(graph)), device_(device), id_(next_network_id++) {
  CUVIZ_CHECK(device_ != Device::cuda || cuda_available(), "network '", graph_.name,
              "': device cuda requested but no CUDA device can be used (",
              CUVIZ_HAS_CUDA ? "no device or no driver" : "this cuviz was built without CUDA", ")");
  CUVIZ_CHECK(!graph_.input.empty(), "network '", graph_.name, "': the graph names no input blob");

  // Values in SSA form: the input is value 0, each layer writes a new value of its output blob.
  std::unordered_map<std::string, int> latest{{graph_.input, 0}};
  std::unordered_map<std::string, std::vector<int>> versions{{graph_.input, {0}}};
  std::unordered_set<std::string> layer_names;
  value_blob_.push_back(graph_.input);
  value_producer_.push_back(-1);
  layer_aux_.resize(graph_.layers.size());
  for (size_t li = 0; li < graph_.layers.size(); ++li) {
    LayerDesc& l = graph_.layers[li];
    const char* kind = layer_kind_name(l.kind);
    CUVIZ_CHECK(!l.name.empty(), "network '", graph_.name, "': layer ", li, " (", kind, ") has no name");
    CUVIZ_CHECK(layer_names.insert(l.name).second, "network '", graph_.name, "': two layers are named '", l.name,
                "'");
    check_layer_counts(l, cat("layer '", l.name, "' (", kind, ")"));
    CUVIZ_CHECK(!l.output.empty(), "layer '", l.name, "' (", kind, ") names no output blob");
    CUVIZ_CHECK(l.kind != LayerKind::conv || !l.conv.fuse_relu, "layer '", l.name,
                "': a graph conv must not set fuse_relu (express the ReLU as its own layer; plans fuse it)");
    std::vector<int> ins;
    for (const auto& b : l.inputs) {
      auto it = latest.find(b);
      CUVIZ_CHECK(it != latest.end(), "layer '", l.name, "' (", kind, ") reads blob '", b,
                  "', which neither the input nor an earlier layer writes (layers must be in topological order)");
      ins.push_back(it->second);
    }
    for (auto& w : l.weights) {
      CUVIZ_CHECK(w.defined() && w.device() == Device::cpu, "layer '", l.name, "': weights must be CPU tensors");
      if (device_ == Device::cuda) {
        OwnedTensor d(w.shape(), Device::cuda);
        copy(w, d);
        w = std::move(d);
      }
    }
    if (const auto make_aux = layer_op(l.kind).make_aux) layer_aux_[li] = make_aux(l, device_);
    const int v = int(value_blob_.size());
    value_blob_.push_back(l.output);
    value_producer_.push_back(int(li));
    layer_inputs_.push_back(std::move(ins));
    layer_output_.push_back(v);
    latest[l.output] = v;
    versions[l.output].push_back(v);
  }

  // Names, weakest first so that later ones win: layer names (their output), `blob:pre` (the
  // value before the blob's last in-place layer), blob names (the blob's final value).
  std::map<std::string, int> names;
  for (size_t li = 0; li < graph_.layers.size(); ++li) names[graph_.layers[li].name] = layer_output_[li];
  for (const auto& [blob, vs] : versions)
    if (vs.size() > 1) names[blob + ":pre"] = vs[vs.size() - 2];
  for (const auto& [blob, v] : latest) names[blob] = v;
  names_.assign(names.begin(), names.end());
}

Plan::OwnedStream::~OwnedStream() {
  if (handle) cuda_rt::stream_destroy(handle);
}

void Network::set_backend(Backend b) {
  check_backend(b, device_);
  backend_ = b;
}

ExecContext Network::context_of(const Plan& p) const {
  return ExecContext{backend_, p.stream_.handle, p.workspace_.data(), size_t(p.workspace_.numel()) * sizeof(float),
                     p.options_.precision};
}

int Network::value_of(std::string_view name) const {
  auto it = std::lower_bound(names_.begin(), names_.end(), name,
                             [](const auto& e, std::string_view n) { return e.first < n; });
  if (it != names_.end() && it->first == name) return it->second;
  std::vector<std::string> all, blobs;
  std::unordered_set<std::string> seen;
  for (const auto& e : names_) all.push_back(e.first);
  for (const auto& b : value_blob_)
    if (seen.insert(b).second) blobs.push_back(b);
  const std::string hint = suggestions(name, all);  // "; did you mean X?" or ""
  throw Error(cat("network '", graph_.name, "': unknown layer or blob '", name, "'", hint,
                  hint.empty() ? "; " : " ", "available blobs: ", listing(blobs)));
}

int Network::layer_index(std::string_view name) const {
  std::vector<std::string> all;
  for (size_t i = 0; i < graph_.layers.size(); ++i) {
    if (graph_.layers[i].name == name) return int(i);
    all.push_back(graph_.layers[i].name);
  }
  const std::string hint = suggestions(name, all);
  throw Error(cat("network '", graph_.name, "': unknown layer '", name, "'", hint,
                  hint.empty() ? "; " : " ", "available layers: ", listing(all)));
}

void Network::check_owner(const Plan& p, const char* what) const {
  CUVIZ_CHECK(p.network_id_ == id_, what, ": the plan was made by another network (or is empty)");
}

int Network::plan_value(const Plan& p, std::string_view name, const char* what) const {
  check_owner(p, what);
  const int v = value_of(name);
  if (!p.in_plan_[v]) {
    std::string last = p.steps_.empty() ? graph_.input : graph_.layers[p.steps_.back().layer].name;
    throw Error(cat(what, ": '", name, "' is not computed by this plan (it stops at layer '", last,
                    "'); add it to the plan's outputs"));
  }
  CUVIZ_CHECK(p.overwritten_by_[v] < 0, what, ": '", name, "' is overwritten in place by layer '",
              p.overwritten_by_[v] >= 0 ? graph_.layers[p.overwritten_by_[v]].name : "", "' in this plan; add '",
              name, "' to the plan's outputs to keep it");
  return v;
}

int Network::kept_value(const Plan& p, std::string_view name, const char* what) const {
  const int v = plan_value(p, name, what);
  CUVIZ_CHECK(p.kept_[v], what, ": '", name, "' is not kept by this plan: a compact backward plan ",
              "(PlanOptions::stash) reuses its memory once the forward has read it; add '", name,
              "' to the plan's outputs to keep it");
  return v;
}

// The planning state handed from pass to pass. Per-value vectors are indexed by value id, per-root
// ones by the root value of a memory group; each pass fills its own fields and reads earlier ones.
struct Network::PlanBuild {
  Plan p;
  int nv = 0, nl = 0, ns = 0;                           // values, graph layers, plan steps
  bool bwd = false, compact = false;                    // gradients; compact stash (liveness)
  std::vector<char> requested;                          // per value: a plan output (kept, staged)
  std::vector<char> runs;                               // per layer: part of the plan
  std::vector<int> step_of;                             // per layer: its step, or -1
  std::vector<char> keep_input, keep_output;            // per step: a backward rule reads its x / y
  std::vector<std::vector<std::pair<int, int>>> readers;  // per value: (layer, input slot) inside the plan
  std::vector<int> alias_of;                            // per value: the value whose memory it is, or -1
  std::vector<char> reshape;                            // per value: a reshaped view (flatten)
  std::vector<int> placed_in, placed_offset;            // per root: the concat output it is a slice of, at channel
  std::vector<int> top, c0, c1;                         // per value: its group's root and channel range in it
  std::vector<int> roots;                               // group roots, in value order
  std::vector<int> first, last;                         // per root: the steps of its interval
  std::vector<size_t> offset;                           // per root: byte offset in the activation region
  size_t act_bytes = 0;                                 // the activation region
};

Plan Network::plan(Shape input, const std::vector<std::string>& outputs, PlanOptions options) const {
  if (options.weight_grads) options.backward = true;
  CUVIZ_CHECK(input.n > 0 && input.c > 0 && input.h > 0 && input.w > 0, "plan: input shape ", input.str(),
              " has a zero-sized dimension");
  CUVIZ_CHECK(graph_.input_shape.c <= 0 || input.c == graph_.input_shape.c, "plan: network '", graph_.name,
              "' takes ", graph_.input_shape.c, " input channels (blob '", graph_.input, "' is ",
              graph_.input_shape.str(), "), got input ", input.str());
  PlanBuild b;
  b.nv = int(value_blob_.size());
  b.nl = int(graph_.layers.size());
  b.bwd = options.backward;
  b.compact = b.bwd && !options.weight_grads &&
              (options.stash == Stash::compact || (options.stash == Stash::automatic && device_ == Device::cuda));
  b.p.network_id_ = id_;
  b.p.input_ = input;
  b.p.options_ = options;
  plan_truncate(b, outputs);
  plan_shapes(b);
  plan_rules(b);
  plan_taps(b);
  plan_aliases(b);
  plan_concats(b);
  plan_groups(b);
  plan_liveness(b);
  plan_offsets(b);
  plan_allocate(b);
  plan_views(b);
  return std::move(b.p);
}

// Outputs: named values, or every value no layer reads (the graph's final blobs). Truncation:
// walk back from the outputs; only the layers they depend on run.
void Network::plan_truncate(PlanBuild& b, const std::vector<std::string>& outputs) const {
  const int nv = b.nv, nl = b.nl;
  b.requested.assign(nv, 0);
  if (outputs.empty()) {
    std::vector<char> read(nv, 0);
    for (const auto& ins : layer_inputs_)
      for (int v : ins) read[v] = 1;
    for (int v = 1; v < nv; ++v)
      if (!read[v]) b.requested[v] = 1;
  }
  for (const auto& name : outputs) b.requested[value_of(name)] = 1;

  check_precision(b.p.options_.precision, backend_);
  Plan& p = b.p;
  p.in_plan_ = b.requested;
  p.in_plan_[0] = 1;
  b.runs.assign(nl, 0);
  for (int li = nl - 1; li >= 0; --li) {
    if (!p.in_plan_[layer_output_[li]]) continue;
    b.runs[li] = 1;
    for (int v : layer_inputs_[li]) p.in_plan_[v] = 1;
  }
}

// Shapes, the steps, and the readers of each value inside the plan.
void Network::plan_shapes(PlanBuild& b) const {
  Plan& p = b.p;
  p.shape_.assign(b.nv, Shape{});
  p.shape_[0] = p.input_;
  b.readers.assign(b.nv, {});
  b.step_of.assign(b.nl, -1);
  for (int li = 0; li < b.nl; ++li) {
    if (!b.runs[li]) continue;
    const LayerDesc& l = graph_.layers[li];
    std::vector<Shape> in;
    for (int v : layer_inputs_[li]) in.push_back(p.shape_[v]);
    try {
      p.shape_[layer_output_[li]] = output_shape(l, in);
    } catch (const Error& e) {
      throw Error(cat("layer '", l.name, "' (", layer_kind_name(l.kind), ") with input ", shapes_str(in), ": ",
                      e.what()));
    }
    for (size_t s = 0; s < layer_inputs_[li].size(); ++s) b.readers[layer_inputs_[li][s]].emplace_back(li, int(s));
    Plan::Step step;
    step.layer = li;
    step.in = layer_inputs_[li];
    step.out = layer_output_[li];
    b.step_of[li] = int(p.steps_.size());
    p.steps_.push_back(std::move(step));
    p.layer_names_.push_back(l.name);
  }
  b.ns = int(p.steps_.size());
}

// Backward rules: the built-in "relu_redirect" (off) and PlanOptions::backward_rules (on), each
// checked against the layers it selects. A rule replaces the backward of a layer that computes
// one output from one input; concat and add only route gradients, and dropout and flatten share
// their input's gradient memory, so there is nothing there to replace. What each rule needs
// from the forward is recorded per step for the alias and liveness passes.
void Network::plan_rules(PlanBuild& b) const {
  Plan& p = b.p;
  p.rules_.push_back(Plan::RuleSlot{relu_redirect_rule(), false});
  for (const auto& r : p.options_.backward_rules) {
    CUVIZ_CHECK(r != nullptr, "plan: PlanOptions::backward_rules holds a null rule");
    CUVIZ_CHECK(b.bwd, "plan: backward rule '", r->name(), "' needs a backward plan (PlanOptions::backward)");
    for (const auto& q : p.rules_)
      CUVIZ_CHECK(q.rule->name() != r->name(), "plan: two backward rules are named '", r->name(), "'");
    for (const auto& name : r->target().layers) {
      int li = -1;
      try {
        li = layer_index(name);
      } catch (const Error& e) {
        throw Error(cat("plan: backward rule '", r->name(), "': ", e.what()));
      }
      CUVIZ_CHECK(b.runs[li], "plan: backward rule '", r->name(), "' selects layer '", name,
                  "', which this plan does not run (the plan's outputs do not depend on it)");
    }
    p.rules_.push_back(Plan::RuleSlot{r, true});
  }
  b.keep_input.assign(b.ns, 0);
  b.keep_output.assign(b.ns, 0);
  for (int t = 0; t < b.ns; ++t) {
    Plan::Step& s = p.steps_[t];
    const LayerDesc& l = graph_.layers[s.layer];
    for (int i = 0; i < int(p.rules_.size()); ++i) {
      const BackwardRule& r = *p.rules_[i].rule;
      if (!r.target().selects(l)) continue;
      const char* kind = layer_kind_name(l.kind);
      CUVIZ_CHECK(l.kind != LayerKind::concat && l.kind != LayerKind::add && l.kind != LayerKind::dropout &&
                      l.kind != LayerKind::flatten,
                  "plan: backward rule '", r.name(), "' selects layer '", l.name, "' (", kind,
                  "); rules replace the backward of layers that compute (not concat, add, dropout or flatten)");
      CUVIZ_CHECK(!p.options_.weight_grads || (l.kind != LayerKind::conv && l.kind != LayerKind::linear), "plan: backward rule '",
                  r.name(), "' selects layer '", l.name, "' (", kind,
                  ") of a weight_grads plan; a rule replaces the whole backward, weight gradients included");
      const RuleNeeds needs = r.needs(l);
      CUVIZ_CHECK(!needs.relu_mask || l.kind == LayerKind::relu, "plan: backward rule '", r.name(),
                  "' needs a ReLU mask of layer '", l.name, "' (", kind, "), which is not a ReLU");
      b.keep_input[t] |= needs.input;
      b.keep_output[t] |= needs.output;
      s.rules.push_back(i);
    }
  }
}

// Gradient taps (PlanOptions::grad_taps): a value's gradient is complete when the backward
// reaches the step that produced the value (every reader of it came later in the forward, so
// earlier in the backward), and that step is the first to overwrite it (an in-place ReLU writes
// d(input) over d(output); a concat branch's producer writes into the concat's gradient slice
// only after the concat's own gradient is complete). So the copy runs at the start of that step;
// the input's taps once the backward is done. The copies live in the arena (plan_allocate).
void Network::plan_taps(PlanBuild& b) const {
  Plan& p = b.p;
  for (const auto& name : p.options_.grad_taps) {
    CUVIZ_CHECK(b.bwd, "plan: gradient tap '", name, "' needs a backward plan (PlanOptions::backward)");
    int v = -1;
    try {
      v = value_of(name);
    } catch (const Error& e) {
      throw Error(cat("plan: gradient tap: ", e.what()));
    }
    CUVIZ_CHECK(p.in_plan_[v], "plan: gradient tap '", name,
                "' is not computed by this plan; add it to the plan's outputs");
    const int tap = int(p.tap_value_.size());
    p.tap_value_.push_back(v);
    if (value_producer_[v] < 0)
      p.input_taps_.push_back(tap);
    else
      p.steps_[b.step_of[value_producer_[v]]].taps.push_back(tap);
  }
}

// Aliases. A ReLU overwrites its input when nothing else reads it and the producer's backward
// does not need its own output (conv, linear, affine, add); after a conv it runs inside the
// conv (fuse_relu). Dropout (identity at inference) and flatten (a reshape) are views.
void Network::plan_aliases(PlanBuild& b) const {
  Plan& p = b.p;
  b.alias_of.assign(b.nv, -1);
  b.reshape.assign(b.nv, 0);
  p.overwritten_by_.assign(b.nv, -1);
  for (auto& s : p.steps_) {
    const LayerDesc& l = graph_.layers[s.layer];
    const int x = s.in[0], y = s.out;
    if (l.kind == LayerKind::relu) {
      const int prod = value_producer_[x];
      const LayerKind pk = prod >= 0 ? graph_.layers[prod].kind : LayerKind::relu;
      const bool fresh = prod >= 0 && (pk == LayerKind::conv || pk == LayerKind::linear ||
                                       pk == LayerKind::affine || pk == LayerKind::add);
      // A backward rule that reads the ReLU's input, or its producer's output, needs x intact.
      const bool rule_reads_x = b.keep_input[b.step_of[s.layer]] || (prod >= 0 && b.keep_output[b.step_of[prod]]);
      if (fresh && b.readers[x].size() == 1 && !b.requested[x] && !rule_reads_x) {
        b.alias_of[y] = x;
        p.overwritten_by_[x] = s.layer;
        s.aliases_input = true;
        if (pk == LayerKind::conv) {
          p.steps_[b.step_of[prod]].fuse_relu = true;
          s.fused_into_conv = true;
        }
      }
    } else if (const Memory m = layer_op(l.kind).memory; m == Memory::view || m == Memory::reshape) {
      b.alias_of[y] = x;
      b.reshape[y] = m == Memory::reshape;
      s.aliases_input = true;
    }
  }
}

// The value whose memory v is (v itself unless it is an in-place or view alias).
static int alias_root(const std::vector<int>& alias_of, int v) {
  while (alias_of[v] >= 0) v = alias_of[v];
  return v;
}

// Concat placement: a branch whose memory group (a value and its in-place/view aliases) is
// read by nothing but this concat input lives in the concat's channel slice, so neither the
// forward nor the backward copies it.
void Network::plan_concats(PlanBuild& b) const {
  Plan& p = b.p;
  const int nv = b.nv;
  auto root = [&](int v) { return alias_root(b.alias_of, v); };
  std::vector<char> group_reshaped(nv, 0);
  for (int v = 0; v < nv; ++v)
    if (p.in_plan_[v] && b.reshape[v]) group_reshaped[root(v)] = 1;
  b.placed_in.assign(nv, -1);
  b.placed_offset.assign(nv, 0);
  for (auto& s : p.steps_) {
    if (graph_.layers[s.layer].kind != LayerKind::concat) continue;
    int offset = 0;
    for (size_t i = 0; i < s.in.size(); ++i) {
      const int x = s.in[i], r = root(x);
      s.concat_offset.push_back(offset);
      bool ok = r != 0 && !group_reshaped[r] && b.placed_in[r] < 0;
      int external = 0;
      for (int u = 0; ok && u < nv; ++u) {
        if (!p.in_plan_[u] || root(u) != r) continue;
        for (auto [li, slot] : b.readers[u])
          if (root(layer_output_[li]) != r) ++external;
      }
      ok = ok && external == 1;
      if (ok) {
        b.placed_in[r] = s.out;
        b.placed_offset[r] = offset;
      }
      s.placed.push_back(ok);
      offset += p.shape_[x].c;
    }
  }
}

// Memory groups: a root value (neither a view nor placed in a concat) with every value that
// lives inside it (its in-place/view aliases, the concat branches placed in its slices).
// Gradients mirror activations, and each value's memory is a channel range [c0, c1) of its
// group's root `top`: placed roots are slices of their concat (which comes later, so resolve
// backwards), aliases share their source's memory (resolve forwards).
void Network::plan_groups(PlanBuild& b) const {
  const Plan& p = b.p;
  const int nv = b.nv;
  auto [top, c0, c1] = std::tie(b.top, b.c0, b.c1);
  top.assign(nv, -1);
  c0.assign(nv, 0);
  c1.assign(nv, 0);
  for (int v = nv - 1; v >= 0; --v) {
    if (!p.in_plan_[v] || b.alias_of[v] >= 0) continue;
    const int o = b.placed_in[v];
    top[v] = o < 0 ? v : top[o];
    c0[v] = o < 0 ? 0 : c0[o] + b.placed_offset[v];
    c1[v] = c0[v] + p.shape_[v].c;
  }
  for (int v = 0; v < nv; ++v)
    if (p.in_plan_[v] && b.alias_of[v] >= 0) {
      const int a = b.alias_of[v];
      top[v] = top[a], c0[v] = c0[a], c1[v] = c1[a];
    }
  for (int v = 0; v < nv; ++v)
    if (p.in_plan_[v] && top[v] == v) b.roots.push_back(v);
}

// The stash of a compact plan (backward without weight gradients, PlanOptions::stash):
// the backward to the input needs no activation of conv, linear, affine, add, concat, dropout
// or flatten (their data gradients need weights only); a ReLU needs where its output is > 0,
// one bit per element (kernels/relu.h mask); a max pool needs each window's winner
// (kernels/pool2d.h); LRN needs its input and output, softmax its output. Everything else is
// alive from the step that writes it to the last step that reads it in the forward. A group
// the backward or the caller (requested outputs) needs is kept for the plan's lifetime (its
// interval ends at ns, past the last step).
void Network::plan_liveness(PlanBuild& b) const {
  const Plan& p = b.p;
  const int nv = b.nv, ns = b.ns;
  auto [first, last] = std::tie(b.first, b.last);
  first.assign(nv, ns);  // -1: the input's copy
  last.assign(nv, -1);
  for (int v = 0; v < nv; ++v)
    if (p.in_plan_[v]) {
      const int def = value_producer_[v] < 0 ? -1 : b.step_of[value_producer_[v]];
      first[b.top[v]] = std::min(first[b.top[v]], def);
      last[b.top[v]] = std::max(last[b.top[v]], b.requested[v] || !b.compact ? ns : def);
    }
  for (int t = 0; t < ns; ++t) {
    const Plan::Step& s = p.steps_[t];
    const Keep k = layer_op(graph_.layers[s.layer].kind).keep;
    for (int v : s.in) last[b.top[v]] = std::max(last[b.top[v]], k == Keep::input_and_output ? ns : t);
    if (k == Keep::input_and_output || k == Keep::output) last[b.top[s.out]] = ns;
    // What the plan's backward rules declared they read (RuleNeeds), whether on or off now.
    if (b.keep_input[t]) last[b.top[s.in[0]]] = ns;
    if (b.keep_output[t]) last[b.top[s.out]] = ns;
  }
}

// Activation offsets by liveness: a textbook greedy (largest group first, each at the lowest
// offset free of every placed group whose interval meets its own). Over the steps (across)
// and the bytes (down), groups whose lifetimes do not overlap share memory:
//
//   bytes ^  [conv1 ..........]                    [inception_3a/output ...]
//         |  [data .]  [pool1 ........][norm1 ...kept for LRN's backward........]
//         +---------------------------------------------------------------------> steps
//
// Without compact every interval spans the whole plan, so every group gets its own memory.
void Network::plan_offsets(PlanBuild& b) const {
  const Plan& p = b.p;
  auto bytes_of = [&](int r) { return Arena::bytes_for(p.shape_[r]); };
  std::vector<int> order = b.roots;
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return bytes_of(x) > bytes_of(y); });
  b.offset.assign(b.nv, 0);
  std::vector<int> placed_groups;
  for (int r : order) {
    const size_t size = bytes_of(r);
    std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of the groups alive with r
    for (int q : placed_groups)
      if (b.first[q] <= b.last[r] && b.first[r] <= b.last[q]) busy.emplace_back(b.offset[q], b.offset[q] + bytes_of(q));
    std::sort(busy.begin(), busy.end());
    size_t at = 0;
    for (auto [begin, end] : busy) {
      if (begin >= at + size) break;  // the gap before this group fits
      at = std::max(at, end);
    }
    b.offset[r] = at;
    b.act_bytes = std::max(b.act_bytes, at + size);
    placed_groups.push_back(r);
  }
}

// One arena: the activations, their gradients (one contiguous block), a scratch gradient, the
// stash (ReLU masks, max-pool winners), weight gradients and the ops' workspace.
void Network::plan_allocate(PlanBuild& b) const {
  Plan& p = b.p;
  const int nv = b.nv;
  const bool bwd = b.bwd, compact = b.compact;
  const PlanOptions& options = p.options_;
  size_t bytes = b.act_bytes;
  int64_t max_numel = 0;
  if (bwd)
    for (int r : b.roots) bytes += Arena::bytes_for(p.shape_[r]);
  for (int v = 0; v < nv; ++v)
    if (p.in_plan_[v]) max_numel = std::max(max_numel, p.shape_[v].numel());
  const int64_t scratch_floats = int64_t(Arena::round_up(size_t(max_numel) * sizeof(float)) / sizeof(float));
  if (bwd) bytes += size_t(scratch_floats) * sizeof(float);
  auto stashes_mask = [&](const Plan::Step& s) {
    return compact && layer_op(graph_.layers[s.layer].kind).keep == Keep::relu_mask;
  };
  auto stashes_winners = [&](const Plan::Step& s) {
    const LayerDesc& l = graph_.layers[s.layer];
    return compact && layer_op(l.kind).keep == Keep::pool_winners && l.pool.mode == PoolMode::max;
  };
  for (const auto& s : p.steps_) {
    if (stashes_mask(s)) bytes += Arena::bytes_for(relu_mask_shape(p.shape_[s.out]));
    if (stashes_winners(s)) bytes += Arena::bytes_for(p.shape_[s.out]);
  }
  p.dweights_.resize(b.nl);
  auto trainable = [&](int li) {
    const LayerKind k = graph_.layers[li].kind;
    return options.weight_grads && layer_op(k).backward_weight != nullptr;
  };
  for (const auto& s : p.steps_)
    if (trainable(s.layer))
      for (const auto& w : graph_.layers[s.layer].weights) bytes += Arena::bytes_for(w.shape());
  // The conv weight gradient's split-K partial sums on a GPU, so that backward allocates nothing.
  size_t workspace_bytes = 0;
  if (device_ == Device::cuda)
    for (const auto& s : p.steps_)
      if (trainable(s.layer) && graph_.layers[s.layer].kind == LayerKind::conv) {
        Conv2dParams c = graph_.layers[s.layer].conv;
        c.fuse_relu = false;
        workspace_bytes = std::max(workspace_bytes, conv2d_backward_weight_cuda_workspace(
                                                        c, p.shape_[s.in[0]], graph_.layers[s.layer].weights[0].shape(),
                                                        p.shape_[s.out]));
      }
  const int64_t workspace_floats = int64_t(Arena::round_up(workspace_bytes) / sizeof(float));
  if (workspace_floats > 0) bytes += Arena::round_up(workspace_bytes);
  for (int v : p.tap_value_) bytes += Arena::bytes_for(p.shape_[v]);
  p.arena_ = Arena(bytes, device_);

  p.act_.assign(nv, Tensor{});
  p.grad_.assign(nv, Tensor{});
  const Tensor act_region = p.arena_.alloc(flat_shape(int64_t(b.act_bytes / sizeof(float))));
  for (int r : b.roots) p.act_[r] = Tensor(act_region.data() + b.offset[r] / sizeof(float), p.shape_[r], device_);
  if (bwd) {
    float* begin = nullptr;
    for (int r : b.roots) {
      p.grad_[r] = p.arena_.alloc(p.shape_[r]);
      if (!begin) begin = p.grad_[r].data();
    }
    // Up to the end of the last gradient's allocation (its alignment padding is its own).
    const int last_root = b.roots.back();
    const float* end = p.grad_[last_root].data() + Arena::bytes_for(p.shape_[last_root]) / sizeof(float);
    p.grad_block_ = Tensor(begin, flat_shape(end - begin), device_);
    p.scratch_ = p.arena_.alloc(flat_shape(scratch_floats));
  }
  for (auto& s : p.steps_) {
    if (stashes_mask(s)) {
      const Shape ms = relu_mask_shape(p.shape_[s.out]);
      s.mask = MaskTensor(reinterpret_cast<uint32_t*>(p.arena_.alloc(ms).data()), ms, device_);
    }
    if (stashes_winners(s))
      s.winners = WinnerTensor(reinterpret_cast<int32_t*>(p.arena_.alloc(p.shape_[s.out]).data()), p.shape_[s.out],
                               device_);
  }
  for (const auto& s : p.steps_)
    if (trainable(s.layer))
      for (const auto& w : graph_.layers[s.layer].weights) p.dweights_[s.layer].push_back(p.arena_.alloc(w.shape()));
  if (workspace_floats > 0) p.workspace_ = p.arena_.alloc(Shape{1, 1, 1, int(workspace_floats)});
  for (int v : p.tap_value_) p.taps_.push_back(p.arena_.alloc(p.shape_[v]));

  // A GPU plan's stream, and the size of its pinned staging: the input, the outputs, d(input).
  if (device_ == Device::cuda) {
    p.stream_.handle = cuda_rt::stream_create();
    p.staging_floats_ = p.input_.numel();
    for (int v = 0; v < nv; ++v)
      if (b.requested[v]) p.staging_floats_ = std::max(p.staging_floats_, p.shape_[v].numel());
  }
}

// Views into the roots' memory (placed concat branches, then aliases), what each value's memory
// keeps (kept_), and which gradients share memory (overlaps_, for backward's dirty tracking).
void Network::plan_views(PlanBuild& b) const {
  Plan& p = b.p;
  const int nv = b.nv;
  for (int v = nv - 1; v >= 0; --v) {
    if (!p.in_plan_[v] || b.alias_of[v] >= 0 || b.placed_in[v] < 0) continue;
    const int o = b.placed_in[v], off = b.placed_offset[v], c = p.shape_[v].c;
    p.act_[v] = p.act_[o].channels(off, c);
    if (b.bwd) p.grad_[v] = p.grad_[o].channels(off, c);
  }
  for (int v = 0; v < nv; ++v) {
    if (!p.in_plan_[v] || b.alias_of[v] < 0) continue;
    const int x = b.alias_of[v];
    p.act_[v] = b.reshape[v] ? p.act_[x].reshaped(p.shape_[v]) : p.act_[x];
    if (b.bwd) p.grad_[v] = b.reshape[v] ? p.grad_[x].reshaped(p.shape_[v]) : p.grad_[x];
  }
  p.kept_.assign(nv, 0);
  for (int v = 0; v < nv; ++v) p.kept_[v] = p.in_plan_[v] && b.last[b.top[v]] == b.ns;
  p.overlaps_.assign(nv, {});
  if (b.bwd)
    for (int v = 0; v < nv; ++v)
      for (int u = 0; u < nv && p.in_plan_[v]; ++u)
        if (p.in_plan_[u] && b.top[u] == b.top[v] && b.c0[u] < b.c1[v] && b.c0[v] < b.c1[u])
          p.overlaps_[v].push_back(u);
  p.seeded_.assign(nv, 0);
}

LayerCall Network::call_of(const Plan& p, const Plan::Step& s) const {
  const LayerDesc& l = graph_.layers[s.layer];
  return LayerCall{l,
                   p.act_,
                   s.in,
                   p.act_[s.out],
                   p.has_backward() ? p.grad_[s.out] : Tensor(),
                   layer_aux_[s.layer],
                   s.mask,
                   s.winners,
                   s.concat_offset,
                   s.placed,
                   s.fuse_relu,
                   s.fused_into_conv};
}

void Network::forward(Plan& p, const Tensor& x) const {
  check_owner(p, "forward");
  CUVIZ_CHECK(x.shape() == p.input_, "forward: input ", x.shape().str(), " does not match the plan's input ",
              p.input_.str());
  // NVTX: "forward" holds "fwd input" and one "fwd <layer>" per layer; with a profiler installed
  // (core/profiler.h) each of those leaves is also a row of the profile.
  CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::none, "forward");
  const ExecScope scope(context_of(p));
  {
    CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::forward, "input");
    if (device_ == Device::cuda && x.device() == Device::cpu) {
      // Host input: into pinned memory, then an asynchronous copy on the plan's stream. The stream
      // is drained first, so the previous copy out of the staging buffer has finished.
      cuda_rt::stream_synchronize(p.stream_.handle);
      const Tensor staged(staging(p), x.shape(), Device::cpu);
      copy(x, staged);
      cuda_rt::memcpy_to_device_async(p.act_[0].data(), staged.data(), size_t(x.numel()) * sizeof(float));
    } else {
      copy(x, p.act_[0]);
    }
    if (p.has_backward()) zero_grads(p);
  }
  p.taps_ready_ = false;
  p.ops_run_ = 0;
  const int64_t oracle_ops_before = oracle_ops_count();
  for (const auto& s : p.steps_) {
    const LayerDesc& l = graph_.layers[s.layer];
    CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::forward, l.name);
    try {
      if (!layer_op(l.kind).forward(call_of(p, s))) continue;  // launched nothing (a view, a fused ReLU)
    } catch (const Error& e) {
      throw Error(cat("forward: layer '", l.name, "' (", layer_kind_name(l.kind), "): ", e.what()));
    }
    ++p.ops_run_;
  }
  p.oracle_ops_run_ = oracle_ops_count() - oracle_ops_before;
  p.forward_ran_ = true;
}

void Network::download(Plan& p, const Tensor& src, const Tensor& dst) const {
  CUVIZ_CHECK(src.shape() == dst.shape(), "read_activation: destination ", dst.shape().str(), " does not match ",
              src.shape().str());
  const ExecScope scope(context_of(p));
  if (device_ == Device::cuda && dst.device() == Device::cpu && src.numel() <= p.staging_floats_) {
    const Tensor staged(staging(p), src.shape(), Device::cpu);
    copy(src, staged);  // device -> pinned host on the plan's stream, waited for
    copy(staged, dst);
  } else {
    copy(src, dst);
  }
}

float* Network::staging(Plan& p) const {
  if (!p.staging_.data()) p.staging_ = Buffer::pinned(size_t(p.staging_floats_) * sizeof(float));
  return static_cast<float*>(p.staging_.data());
}

void Network::read_activation(Plan& p, std::string_view name, const Tensor& dst) const {
  download(p, p.act_[kept_value(p, name, "read_activation")], dst);
}

Tensor Network::activation(const Plan& p, std::string_view name) const {
  return p.act_[kept_value(p, name, "activation")];
}

Tensor Network::activation_grad(Plan& p, std::string_view name) const {
  check_owner(p, "activation_grad");
  CUVIZ_CHECK(p.has_backward(), "activation_grad: the plan was made without PlanOptions::backward");
  const int v = plan_value(p, name, "activation_grad");
  p.seeded_[v] = 1;
  return p.grad_[v];
}

void Network::zero_grads(Plan& p) const {
  check_owner(p, "zero_grads");
  CUVIZ_CHECK(p.has_backward(), "zero_grads: the plan was made without PlanOptions::backward");
  const ExecScope scope(context_of(p));
  fill(p.grad_block_, 0.f);
  p.grads_used_ = false;
}

void Network::backward_to_input(Plan& p, const Tensor& dx) const {
  check_owner(p, "backward_to_input");
  CUVIZ_CHECK(dx.shape() == p.input_, "backward_to_input: dx ", dx.shape().str(), " does not match the plan's input ",
              p.input_.str());
  run_backward(p);
  CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::backward, "input");
  download(p, p.grad_[0], dx);
}

void Network::backward(Plan& p) const {
  check_owner(p, "backward");
  run_backward(p);
}

// Reverse-mode over the plan's steps. Gradient memory was zeroed by forward and holds the seeds;
// `dirty[v]` says v's gradient memory may hold non-zero values (a seed or a contribution, also
// through memory shared with another value). A layer whose output gradient is clean contributes
// nothing and is skipped; a contribution to a clean gradient is written in place, one to a dirty
// gradient goes through the scratch buffer and is added, which sums the readers of a fan-out.
void Network::run_backward(Plan& p) const {
  CUVIZ_CHECK(p.has_backward(), "backward: the plan was made without PlanOptions::backward");
  CUVIZ_CHECK(p.forward_ran_, "backward: run forward first");
  CUVIZ_CHECK(!p.grads_used_,
              "backward: the gradients of the previous backward are still in place; run forward (or zero_grads) "
              "and seed again");
  // NVTX: "backward" holds one "bwd <layer>" per layer that receives a gradient, then "bwd input".
  CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::none, "backward");
  const ExecScope scope(context_of(p));
  const int nv = int(p.in_plan_.size());
  std::vector<char> dirty(nv, 0);
  auto mark = [&](int v) {
    for (int u : p.overlaps_[v]) dirty[u] = 1;
  };
  for (int v = 0; v < nv; ++v)
    if (p.seeded_[v]) mark(v);
  auto deliver = [&](int v, auto&& write) {
    if (!dirty[v]) {
      write(p.grad_[v]);
    } else {
      const Tensor s(p.scratch_.data(), p.shape_[v], device_);
      write(s);
      add_forward(p.grad_[v], s, p.grad_[v]);
    }
    mark(v);
  };
  auto deliver_copy = [&](int v, const Tensor& src) {
    if (!dirty[v])
      copy(src, p.grad_[v]);
    else
      add_forward(p.grad_[v], src, p.grad_[v]);
    mark(v);
  };
  // The op table's view of deliver: an in-place layer's d(input) shares dy's memory, so it is
  // written there directly (dx overwrites dy, already dirty); others deliver.
  struct Grads final : InputGrads {
    const Plan& p;
    const Plan::Step& s;
    decltype(deliver)& deliver_;
    decltype(deliver_copy)& deliver_copy_;
    Grads(const Plan& p_, const Plan::Step& s_, decltype(deliver)& d, decltype(deliver_copy)& dc)
        : p(p_), s(s_), deliver_(d), deliver_copy_(dc) {}
    void write(int slot, TensorFn w) override {
      if (s.aliases_input)
        w(p.grad_[s.in[slot]]);
      else
        deliver_(s.in[slot], w);
    }
    void pass(int slot, const Tensor& g) override { deliver_copy_(s.in[slot], g); }
  };

  for (auto it = p.steps_.rbegin(); it != p.steps_.rend(); ++it) {
    const Plan::Step& s = *it;
    const LayerDesc& l = graph_.layers[s.layer];
    auto& dws = p.dweights_[s.layer];
    CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::backward, l.name);
    // d(out) is complete here and nothing has overwritten it yet (plan_taps): copy the taps.
    for (int tap : s.taps) copy(p.grad_[s.out], p.taps_[tap]);
    if (!dirty[s.out]) {
      for (const auto& dw : dws) fill(dw, 0.f);
      continue;
    }
    // An enabled backward rule replaces the per-kind backward below (nn/backward_rule.h).
    if (const BackwardRule* rule = s.rules.empty() ? nullptr : enabled_rule(p, s)) {
      try {
        // What the forward left intact: kept for the plan's lifetime and not overwritten in place.
        auto intact = [&](int v) { return p.kept_[v] && p.overwritten_by_[v] < 0 ? p.act_[v] : Tensor(); };
        BackwardArgs a{l, intact(s.in[0]), intact(s.out), s.mask, p.grad_[s.out], Tensor()};
        Grads grads(p, s, deliver, deliver_copy);  // an in-place ReLU: dx overwrites dy, as below
        grads.write(0, [&](const Tensor& d) {
          a.dx = d;
          rule->backward(a);
        });
      } catch (const Error& e) {
        throw Error(cat("backward: layer '", l.name, "' (", layer_kind_name(l.kind), "), rule '", rule->name(),
                        "': ", e.what()));
      }
      continue;
    }
    try {
      const LayerOp& op = layer_op(l.kind);
      const LayerCall call = call_of(p, s);
      if (!dws.empty()) op.backward_weight(call, dws);
      Grads grads(p, s, deliver, deliver_copy);
      op.backward_data(call, grads);
    } catch (const Error& e) {
      throw Error(cat("backward: layer '", l.name, "' (", layer_kind_name(l.kind), "): ", e.what()));
    }
  }
  {
    CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::backward, "input");
    for (int tap : p.input_taps_) copy(p.grad_[0], p.taps_[tap]);
  }
  p.grads_used_ = true;
  p.taps_ready_ = true;
}

// The one enabled rule among those selecting the step's layer, or null. Two would make the
// result depend on an order nobody chose, so that is an error naming both.
const BackwardRule* Network::enabled_rule(const Plan& p, const Plan::Step& s) const {
  const BackwardRule* found = nullptr;
  for (int i : s.rules) {
    if (!p.rules_[i].enabled) continue;
    const BackwardRule* r = p.rules_[i].rule.get();
    CUVIZ_CHECK(found == nullptr, "backward: layer '", graph_.layers[s.layer].name, "' is selected by two enabled ",
                "backward rules, '", found ? found->name() : "", "' and '", r->name(), "'; disable one");
    found = r;
  }
  return found;
}

void Plan::enable_backward_rule(std::string_view name, bool on) {
  for (auto& r : rules_)
    if (r.rule->name() == name) {
      r.enabled = on;
      return;
    }
  std::string names;
  for (const auto& r : rules_) names += cat(names.empty() ? "" : ", ", r.rule->name());
  throw Error(cat("enable_backward_rule: the plan has no backward rule '", name, "' (it has: ",
                  names.empty() ? "none; plans made by Network::plan have relu_redirect" : names,
                  "); rules are given in PlanOptions::backward_rules"));
}

bool Plan::backward_rule_enabled(std::string_view name) const {
  for (const auto& r : rules_)
    if (r.rule->name() == name) return r.enabled;
  throw Error(cat("backward_rule_enabled: the plan has no backward rule '", name, "'"));
}

Tensor Network::tapped_grad(const Plan& p, std::string_view name) const {
  check_owner(p, "tapped_grad");
  const int v = value_of(name);
  for (size_t i = 0; i < p.tap_value_.size(); ++i)
    if (p.tap_value_[i] == v) {
      CUVIZ_CHECK(p.taps_ready_, "tapped_grad: '", name,
                  "' holds no gradient yet: run forward, seed and backward first");
      return p.taps_[i];
    }
  std::string taps;
  for (const auto& t : p.options_.grad_taps) taps += cat(taps.empty() ? "" : ", ", t);
  throw Error(cat("tapped_grad: '", name, "' is not a gradient tap of this plan (taps: ", taps.empty() ? "none" : taps,
                  "); add it to PlanOptions::grad_taps"));
}

Tensor Network::weight(std::string_view layer, int index) const {
  const LayerDesc& l = graph_.layers[layer_index(layer)];
  CUVIZ_CHECK(index >= 0 && size_t(index) < l.weights.size(), "weight: layer '", layer, "' has ", l.weights.size(),
              " weight tensors, asked for index ", index);
  return l.weights[index];
}

Tensor Network::weight_grad(const Plan& p, std::string_view layer, int index) const {
  check_owner(p, "weight_grad");
  CUVIZ_CHECK(p.options_.weight_grads, "weight_grad: the plan was made without PlanOptions::weight_grads");
  const int li = layer_index(layer);
  const auto& dws = p.dweights_[li];
  CUVIZ_CHECK(!dws.empty(), "weight_grad: layer '", layer, "' has no trainable weights in this plan");
  CUVIZ_CHECK(index >= 0 && size_t(index) < dws.size(), "weight_grad: layer '", layer, "' has ", dws.size(),
              " weight tensors, asked for index ", index);
  return dws[index];
}

namespace {

// The nominal FLOPs and bytes of one step (LayerInfo). Counts are per batch; elements are floats
// (4 bytes). in = the inputs' elements (a concat's inputs that already live in their slice count
// nothing), w = weight elements, out = output elements.
void set_cost(LayerInfo& info, const LayerDesc& l, bool fused, bool view, const std::vector<char>& placed) {
  int64_t in = 0, copied_in = 0;
  for (size_t i = 0; i < info.inputs.size(); ++i) {
    in += info.inputs[i].numel();
    if (i >= placed.size() || !placed[i]) copied_in += info.inputs[i].numel();
  }
  const int64_t out = info.output.numel(), w = info.params, n = info.output.n;
  int64_t ff = 0, fb = 0, bf = 0, bb = 0;  // flops forward/backward, bytes (elements) forward/backward
  switch (l.kind) {
    case LayerKind::conv:
    case LayerKind::linear:  // backward-data: the same products, transposed (render plans hold no dW)
      ff = fb = 2 * info.macs * n;
      bf = bb = in + w + out;
      break;
    case LayerKind::relu:  // max(x, 0); backward dy * (y > 0) reads dy and the mask/y
      ff = fb = out;
      bf = in + out;
      bb = 2 * out + in;
      break;
    case LayerKind::sigmoid:  // 1 / (1 + e^-x); backward dy * y * (1 - y)
      ff = 4 * out;
      fb = 3 * out;
      bf = in + out;
      bb = 2 * out + in;
      break;
    case LayerKind::pool: {
      const Shape& x = info.inputs[0];
      const int64_t window =
          l.pool.global ? int64_t(x.h) * x.w : int64_t(l.pool.kernel_h) * l.pool.kernel_w;
      ff = window * out;  // compares (max) or adds (average) per output
      if (l.pool.mode == PoolMode::max) {
        fb = out;  // dy added at each window's winner; the winner search reads x again
        bb = out + 2 * in;
      } else {
        fb = window * out;
        bb = out + in;
      }
      bf = in + out;
      break;
    }
    case LayerKind::lrn:  // the window's sum of squares, the scale, the power and the product
      ff = int64_t(2 * l.lrn.size + 4) * out;
      fb = 2 * ff;
      bf = in + out;
      bb = 2 * out + 2 * in;  // dy, y, x, dx
      break;
    case LayerKind::softmax:
      ff = 4 * out;
      fb = 3 * out;
      bf = in + out;
      bb = 2 * out + in;
      break;
    case LayerKind::concat:  // a copy of each input not already in its slice
      bf = bb = 2 * copied_in;
      break;
    case LayerKind::add:  // backward passes dy to both inputs
      ff = out;
      bf = in + out;
      bb = out + in;
      break;
    case LayerKind::affine:
      ff = 2 * out;
      fb = out;
      bf = bb = in + w + out;
      break;
    case LayerKind::dropout:
    case LayerKind::flatten:
      break;
  }
  if (fused || view) ff = bf = 0;  // computed by the conv before it / no launch
  if (view) fb = bb = 0;
  info.flops_forward = ff;
  info.flops_backward = fb;
  info.bytes_forward = 4 * bf;
  info.bytes_backward = 4 * bb;
}

}  // namespace

std::vector<LayerInfo> Network::describe(const Plan& p) const {
  check_owner(p, "describe");
  std::vector<LayerInfo> out;
  for (const auto& s : p.steps_) {
    const LayerDesc& l = graph_.layers[s.layer];
    LayerInfo info;
    info.name = l.name;
    info.type = layer_kind_name(l.kind);
    info.output = p.shape_[s.out];
    for (const auto& w : l.weights) info.params += w.numel();
    if (const auto macs = layer_op(l.kind).macs) info.macs = macs(l, p.shape_[s.out]);
    for (int v : s.in) info.inputs.push_back(p.shape_[v]);
    const bool view = s.aliases_input && l.kind != LayerKind::relu;  // dropout, flatten
    set_cost(info, l, s.fused_into_conv, view, s.placed);
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace cuviz
