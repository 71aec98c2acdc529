// Caffe models: a text .prototxt (the architecture; new `layer` or legacy V1 `layers` form) plus
// a binary .caffemodel (the weights, matched to the architecture's layers by name; either form).
// Training-only layers (data, loss, accuracy) are skipped, so train_val files and zoo weight files
// that still carry auxiliary classifiers load too. Caffe semantics kept: pooling rounds up (ceil),
// max pooling pads with -inf, average pooling divides by the window clipped to the padded input.
#pragma once

#include <string>

#include "nn/graph.h"

namespace cuviz {

// Reads the architecture from `prototxt` and its weights from `caffemodel`. Throws cuviz::Error
// naming the file and layer for: unparsable or truncated files, unsupported layer types, layers
// without weights, and weights whose shapes do not fit the architecture.
Graph load_caffe(const std::string& prototxt, const std::string& caffemodel);

}  // namespace cuviz
