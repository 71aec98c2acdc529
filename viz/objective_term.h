// The extension point of objectives: an objective TERM (channel, deepdream, diversity, l1, the
// algebra nodes, ...) is one `ObjectiveTerm` registration, defined in its own viz/term_*.cpp and
// listed once in viz/objective_terms.cpp. The registration says everything the rest of cuviz
// needs to know about the term:
//   name, aliases, usage      what parse_objective accepts and how errors describe it;
//   parse                     reads the call's arguments (TermArgs) and builds the node;
//   print                     how Objective::str() writes the node;
//   value / backprop          the node's value per image from its slots, and dL/d(slot) (host);
//   compile                   adds the node's leaves to LEAF BATCHES: objects that compute slot
//                             values and add gradient seeds, on the CPU or on the current CUDA
//                             stream, once per step for every leaf of one kind on one blob.
// The layers a term reads are its node's `layers` (so objective_layers and the "logit"
// resolution need no per-term code). The evaluator (viz/objective_eval.h) walks the tree only
// through these hooks: nothing outside a term's file switches on what kind of term a node is.
//
// Leaf batches: a term whose value is a sum of independent per-item shares over one image's
// activations (windows, deepdream, directions, l2_to) writes its maths once as an ITEM MATHS
// struct with CUVIZ_HD functions (`items`, `value`, `seed`; see viz/term_window.h) and uses
// ItemBatch<Maths> (viz/objective_items.h), whose CPU loops and CUDA kernels are shared; terms
// with other shapes of computation (diversity's Gram matrices, the image regularizers) derive
// their own LeafBatch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include "core/tensor.h"

namespace cuviz {

class Network;
class Objective;
class Plan;
struct ObjectiveNode;

// ---- parsing ---------------------------------------------------------------------------------

// The parser's view of one term's argument list, for the term's parse hook. Every reader skips
// blanks and fails (cuviz::Error naming the objective text, the term's usage and the column) when
// the text does not hold what it asks for. A bare word (`tv`, `l1`) has an empty list.
class TermArgs {
 public:
  virtual ~TermArgs() = default;
  // A blob name, with an optional ":pre" suffix (pre-activation).
  virtual std::string layer() = 0;
  // An integer, which may be negative (the range is checked at bind, against the blob).
  virtual int integer(const char* what) = 0;
  // A number, with an optional sign.
  virtual double number(const char* what) = 0;
  // Consumes the ',' before the next argument (fails naming the usage when it is missing).
  virtual void comma() = 0;
  // Consumes a ',' when one follows: optional and repeated arguments.
  virtual bool next() = 0;
  // True when the list is empty or fully read (the next character is the closing ')').
  virtual bool at_end() = 0;
  [[noreturn]] virtual void fail(const std::string& what) = 0;
};

// ---- evaluation --------------------------------------------------------------------------------

// One step's shared state, handed to every batch.
struct StepBuffers {
  Device device = Device::cpu;
  float* values = nullptr;                      // slot values, on the device
  const float* weights = nullptr;               // dL/d(slot), on the device
  const std::vector<float>* host_weights = nullptr;  // the same on the host
};

// Every leaf of one kind on one blob ("" for the input image), evaluated together: one call per
// batch and step, so a sweep of 64 channel objectives is one kernel, not 64.
class LeafBatch {
 public:
  virtual ~LeafBatch() = default;
  std::string layer;  // the blob ("" for the input image), set when the batch is created
  // The blob is known: check the leaves against its shape (one Error naming the term, the layer
  // and the valid range) and allocate every buffer on `device`. act/grad are undefined for "".
  virtual void bind(const Tensor& act, const Tensor& grad, int n, Device device) = 0;
  // Before bind: reuse the device buffers of the same batch of an earlier evaluator (restart).
  virtual void take_buffers(LeafBatch&) {}
  // Writes the slot values of the current forward (image: the [0, 1] images {N, 3, H, W}).
  virtual void values(const Tensor& image, const StepBuffers& step) = 0;
  // Adds weights * d(value)/da into the blob's activation gradient.
  virtual void seed(const StepBuffers&) {}
  // Adds weights * d(value)/d(image) into dimage (terms on the input image).
  virtual void add_image_gradient(const Tensor& /*image*/, const Tensor& /*dimage*/, const StepBuffers&) {}
  // The host weights changed (before the step's seeds): batches that keep derived weights on the
  // device (diversity's per-image upstream) update them here.
  virtual void weights_changed(const StepBuffers&) {}
};

// Copies `bytes` of host memory (whole floats or ints) into b, reallocated only when its size or
// device differs (a rebind with the same layout reuses it).
void upload_to(Buffer& b, const void* data, size_t bytes, Device device);
// t, reallocated only when its shape or device differs.
void ensure_shape(OwnedTensor& t, Shape shape, Device device);

// What a term's compile hook uses: the images its node belongs to, slot numbers and batches.
class TermCompiler {
 public:
  virtual ~TermCompiler() = default;
  // Images [first, last) share this node (a node of the objective shared by all images is
  // compiled once for the whole batch, which keeps its slots consecutive).
  virtual int first() const = 0;
  virtual int last() const = 0;
  virtual int batch_size() const = 0;
  // Slot of part `part` of the node on `image`.
  virtual int slot(int image, int part = 0) const = 0;
  // The batch of type B on `layer`, created on first use ("" for the input image).
  template <class B>
  B& batch(const std::string& layer) {
    return static_cast<B&>(batch_of(std::type_index(typeid(B)), layer, []() -> std::unique_ptr<LeafBatch> { return std::make_unique<B>(); }));
  }

 protected:
  virtual LeafBatch& batch_of(std::type_index type, const std::string& layer,
                              std::unique_ptr<LeafBatch> (*make)()) = 0;
};

// The host side of the expression: node values from slot values, and the reverse pass that
// turns dL/d(node) into dL/d(slot). A term's value/backprop hooks recurse through it.
class TreeWalk {
 public:
  virtual ~TreeWalk() = default;
  virtual int image() const = 0;
  virtual int batch_size() const = 0;
  virtual double slot_value(const ObjectiveNode& node, int part) const = 0;
  virtual void add_weight(const ObjectiveNode& node, int part, double u) const = 0;
  double value(const ObjectiveNode& node) const;
  void backprop(const ObjectiveNode& node, double u) const;
};

// ---- the registration --------------------------------------------------------------------------

struct ObjectiveTerm {
  const char* name;                   // as parsed and printed
  std::vector<std::string> aliases;   // other names the parser accepts
  const char* usage;                  // e.g. "channel(LAYER,C)", shown in errors and docs
  // Reads the arguments after '(' (the parser checks the ')'); null: not parseable (algebra
  // nodes, and terms that take data the expression language cannot write, like l2_to's target).
  Objective (*parse)(TermArgs&) = nullptr;
  bool bare = false;                  // also written without parentheses (tv, l1, l2, blur)
  std::string (*print)(const ObjectiveNode&) = nullptr;
  // Null for a leaf: the value of slot 0, and u added to its weight.
  double (*value)(const ObjectiveNode&, const TreeWalk&) = nullptr;
  void (*backprop)(const ObjectiveNode&, const TreeWalk&, double u) = nullptr;
  // Null for nodes without leaves (algebra). Called once per node and set of images.
  void (*compile)(const ObjectiveNode&, TermCompiler&) = nullptr;
  int parts = 1;                      // value slots per image (channel_interpolate: 2)
  bool reads_values = false;          // dL/d(slot) depends on values (products): read back per step
};

// A node of `term` reading `layers` with numeric `args` (the term's constructors use it).
Objective make_term(const ObjectiveTerm& term, std::vector<std::string> layers = {}, std::vector<double> args = {});

// A number as objectives print it (ostream's default: "0.5", "100", "1e-06").
std::string objective_number(double v);

// Every registered term, in the order of viz/objective_terms.cpp.
const std::vector<const ObjectiveTerm*>& objective_terms();
// The parseable term called `name` (or an alias); nullptr when none is.
const ObjectiveTerm* find_objective_term(const std::string& name);
// "; did you mean X?" for the parseable names closest to `name` (empty when none is close).
std::string objective_term_suggestion(const std::string& name);

}  // namespace cuviz
