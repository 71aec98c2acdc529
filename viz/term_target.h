// The compile step shared by the terms that compare a blob with a stored target activation
// (l2_to and dot_to in viz/term_l2_to.cpp, content in viz/term_style.cpp). Host-only: kept out of
// viz/term_l2_to.h, whose item maths the CUDA objective kernels include.
#pragma once

#include "viz/objective_items.h"
#include "viz/objective_term.h"

namespace cuviz {

// The compile step of a term that compares a blob with a target activation (l2_to, dot_to, content):
// one task per image of the node, reading the node's target (n.data) from the batch's table, with
// n.args[0] as the task's aux_norm.
template <class Maths>
void compile_to_target(const ObjectiveNode& n, TermCompiler& c) {
  const Tensor& target = *n.data;
  const Shape s = target.shape();
  auto& batch = c.batch<ItemBatch<Maths>>(n.layers[0]);
  const int at = batch.add_aux(target.data(), size_t(s.image_size()));
  for (int i = c.first(); i < c.last(); ++i) {
    LeafTask t;
    t.image = i;
    t.channel = s.c;  // the target's shape, checked against the blob at bind
    t.x1 = s.w;
    t.y1 = s.h;
    t.slot = c.slot(i);
    t.aux = at;
    t.aux_norm = float(n.args[0]);
    batch.add(t, n.term->print(n));
  }
}

}  // namespace cuviz
