// Deterministic mode (docs/reliability.md, "Determinism"). On the CPU every kernel is
// deterministic: each output element belongs to one thread and sums run in a fixed order, so a
// seed gives the same bytes run after run, at any thread count (the conv weight gradient, whose
// threads keep partial sums: run after run at one thread count). On CUDA three places are not,
// because they add floating-point numbers with atomics, whose order depends on scheduling:
//   - viz/objective.cu, the gradient seeds of item terms: when two terms of one image touch the
//     same activation (a channel and a neuron of it, a deepdream plus a direction), their
//     blocks' atomicAdds land in either order;
//   - viz/factorize.cu, the k-means centre sums (double atomics);
//   - the cuDNN oracle (--backend cudnn), whose backward algorithms may use atomics
//     (cuDNN reports each algorithm's determinism).
// In deterministic mode each of them takes an ordered path instead: one block per image adds
// the terms' seeds in the CPU's task order, each centre sums its members in index order, and
// cuDNN is asked for algorithms it reports as CUDNN_DETERMINISTIC. Everything else on CUDA
// (cuviz's own conv, pool, reductions: fixed tree orders) is deterministic in both modes.
// The mode is on when the environment has CUVIZ_DETERMINISTIC set to anything but "" or "0",
// or when a command is given --deterministic (set_deterministic).
#pragma once

namespace cuviz {

bool deterministic();
void set_deterministic(bool on);

}  // namespace cuviz
