// Objectives for activation maximization (Lucid's optvis/objectives.py), all MAXIMISED. An
// Objective is an expression over leaves evaluated per image i of a batch of N:
//   channel(L,c)_i = mean_{y,x} a_i[c,y,x]          neuron(L,c,x,y)_i = a_i[c,y,x]
//   deepdream(L)_i = mean_{c,y,x} a_i^2             class_logit(k)_i  = z_i[k] (pre-softmax)
//   direction(L,v)_i = mean_{y,x} <a_i[:,y,x], v>   direction_cossim: mean_{y,x} cos(a_i[:,y,x], v)
//   diversity(L)_i = sum_{j != i} <G^_i, G^_j>,  G^ = G / ||G||,  G_i = A_i A_i^T (C x C Gram)
//   channel_interpolate(L1,c1,L2,c2)_i = (1 - i/(N-1)) channel(L1,c1)_i + i/(N-1) channel(L2,c2)_i
//   l1/l2/tv/blur: viz/regularizers.h on image i (RGB in [0, 1], before transforms)
// The render loop maximises the MEAN over images of their objectives, so mean_i diversity_i is
// Lucid's diversity sum_{i != j} cos / N (used as `channel - 1e2 * diversity`, which penalises
// similar images; Lucent writes the same with the sign of a loss).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/graph.h"

namespace cuviz {

struct ObjectiveTerm;

// One node of an objective expression (immutable, shared between expressions). What the fields
// mean is up to its term (viz/term_*.cpp documents each layout); the evaluator, the printer and
// the parser reach them only through the term's hooks (viz/objective_term.h).
struct ObjectiveNode {
  const ObjectiveTerm* term = nullptr;
  std::vector<std::string> layers;          // blobs read, in argument order
  std::vector<double> args;                 // numeric arguments (channel, position, constant, vector)
  std::shared_ptr<const OwnedTensor> data;  // a tensor argument, on the CPU (l2_to's target)
  std::shared_ptr<const ObjectiveNode> a, b;  // operands of the algebra nodes
};

// An objective expression: a value type over shared immutable nodes.
class Objective {
 public:
  Objective() = default;
  explicit Objective(std::shared_ptr<const ObjectiveNode> node) : node_(std::move(node)) {}
  const ObjectiveNode& node() const { return *node_; }
  const std::shared_ptr<const ObjectiveNode>& ptr() const { return node_; }
  bool defined() const { return node_ != nullptr; }
  // The term of the root node (viz/objective_term.h).
  const ObjectiveTerm& term() const { return *node_->term; }
  // A readable rendering, e.g. "channel(inception_4a/output,97) - 100*diversity(inception_5a/output)".
  std::string str() const;

 private:
  std::shared_ptr<const ObjectiveNode> node_;
};

// Mean of channel c of `layer` over space.
Objective channel(const std::string& layer, int c);
// Activation of channel c at column x, row y (-1: the centre, W/2 and H/2).
Objective neuron(const std::string& layer, int c, int x = -1, int y = -1);
// Mean of squared activations of `layer` (all channels).
Objective deepdream(const std::string& layer);
// Pre-softmax score of class k: `layer` is the blob feeding the softmax (see class_logit_layer).
Objective class_logit(const std::string& layer, int k);
// Mean over space of <a, v> (v has one value per channel).
Objective direction(const std::string& layer, std::vector<float> v);
// Mean over space of the cosine similarity of a and v.
Objective direction_cossim(const std::string& layer, std::vector<float> v);
// Sum over the other images of the cosine similarity of Gram matrices (subtract it to diversify).
Objective diversity(const std::string& layer);
// Per image i of N: (1 - i/(N-1)) channel(layer1, c1) + i/(N-1) channel(layer2, c2).
Objective channel_interpolate(const std::string& layer1, int c1, const std::string& layer2, int c2);
// Sum |x - constant| over the image (Lucid: L1(constant=0.5), used with weight -0.05).
Objective l1(float constant = 0.5f);
// sqrt(1e-6 + sum (x - constant)^2) over the image.
Objective l2(float constant = 0.f);
// Total variation of the image (used with weight -0.25).
Objective total_variation();
// 0.5 sum of squared neighbour differences of the image (neural-style's TV; "tv2").
Objective total_variation_squared();
// 0.5 sum (x - blur(x))^2 with blur(x) held constant (blur_input_each_step, weight -1).
Objective blur();
// Mahendran & Vedaldi's priors (viz/regularizers.h): sum |x - constant|^power (the alpha-norm,
// power 6 there) and sum (dx^2 + dy^2)^(power/2) (TV^beta, power 2 there); power in 1..64.
Objective alpha_norm(float power, float constant = 0.5f);
Objective tv_beta(float power);
// ||a - target||^2 / ||target||^2 over `layer` (Mahendran & Vedaldi's inversion loss; maximise
// -l2_to to reconstruct the image that produced `target`). target: {1, C, H, W} like one image
// of the blob, on the CPU. Programmatic only: the expression language cannot write a tensor.
Objective l2_to(const std::string& layer, OwnedTensor target);
// sum_k a_k target_k over `layer` (Lucid's caricature objective, dot_compare). Programmatic only.
Objective dot_to(const std::string& layer, OwnedTensor target);
// The guided dream's objective (google/deepdream's objective_guide): for every position i of
// `layer`, max_j <a_i, g_j> over the guide's feature vectors g_j (the columns of `guide`
// {1, C, Hg, Wg}, any Hg x Wg), averaged over positions; its gradient at i is g_{argmax_j}/n.
// Programmatic only.
Objective guide(const std::string& layer, OwnedTensor guide_features);
// A constant.
Objective constant(double v);

Objective operator+(const Objective& a, const Objective& b);
Objective operator-(const Objective& a, const Objective& b);
Objective operator-(const Objective& a);
Objective operator*(double s, const Objective& a);
Objective operator*(const Objective& a, double s);
Objective operator*(const Objective& a, const Objective& b);

// The blob feeding the graph's softmax (e.g. "loss3/classifier"); without a softmax, the final
// output blob. Throws when the graph has neither.
std::string class_logit_layer(const Graph& graph);

// Parses an objective expression (grammar in docs/visualization.md), e.g.
//   "inception_4a/output:97"                      channel 97 (also "channel(inception_4a/output,97)")
//   "inception_4c/output:10 - 100*diversity(inception_5a/output)"
//   "logit:285"  "neuron(inception_4a/output,97)"  "neuron(L,97,3,4)"  "deepdream(inception_4c/output)"
//   "-0.25*tv + -0.05*l1"  "l1(0.5)"  "interpolate(L1,c1,L2,c2)"
// Syntax errors throw naming the column; names are not checked here (see check_objective).
Objective parse_objective(const std::string& text);

// Resolves the pseudo-layer "logit" (class_logit's default) to class_logit_layer(graph).
Objective resolve_objective(const Objective& obj, const Graph& graph);

// Every blob an objective reads (no duplicates, order of first use).
std::vector<std::string> objective_layers(const Objective& obj);

}  // namespace cuviz
