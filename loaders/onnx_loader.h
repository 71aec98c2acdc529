// ONNX models (.onnx, opsets 7 to 17, default domain): the common vision operators are mapped
// one to one onto Graph layers; a BatchNormalization whose input only feeds it and comes from a
// Conv is folded into that conv (w' = a w, b' = a (b - mean) + beta, a = scale / sqrt(var + eps)),
// any other becomes a per-channel affine layer. Weights come from initializers or Constant nodes.
#pragma once

#include <string>

#include "nn/graph.h"

namespace cuviz {

// Reads `path`. Throws cuviz::Error naming the file and node for: unparsable files, opsets
// outside 7..17, unsupported operators or attributes, and weights that do not fit their layer.
// Supported: Conv, Relu, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, LRN, Concat,
// Gemm, MatMul, Add, Flatten, Reshape (to 2-D), Dropout, Identity, Softmax, BatchNormalization,
// Constant.
Graph load_onnx(const std::string& path);

}  // namespace cuviz
