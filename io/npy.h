// NumPy .npy files of float32 in C order (format versions 1.0, 2.0 and 3.0): the raw-tensor
// format of cuviz's inputs, reference outputs and dumps, so every result can be checked from
// NumPy. Layout: magic "\x93NUMPY", version, header length, a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (...)} padded to 64 bytes, then the data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cuviz {

// An array as stored: its dims (any rank, C order) and its elements.
struct NpyArray {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

// Reads a little-endian float32 C-order .npy file; throws naming the file for any other dtype,
// Fortran order, a malformed header or a truncated body.
NpyArray read_npy(const std::string& path);
// Writes data (prod(dims) floats) as a version 1.0 float32 .npy file (temporary name + rename).
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& dims);
// The bytes write_npy writes (for a group of files written together, io/atomic_file.h); `path`
// only names the file in errors (a non-finite element, a shape over the element cap).
std::string encode_npy(const std::string& path, const float* data, const std::vector<int64_t>& dims);
std::string encode_npy(const std::string& path, const Tensor& t);

// Reads an .npy of rank 1 to 4 as an NCHW tensor: (c) -> {1,c,1,1}, (n,c) -> {n,c,1,1},
// (c,h,w) -> {1,c,h,w}, (n,c,h,w) as is.
OwnedTensor read_npy_tensor(const std::string& path);
// Writes a CPU tensor (strided views allowed) as a 4-D (n, c, h, w) array.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace cuviz
