// NumPy .npy reading and writing for float32 C-order arrays (see npy.h for the layout).
// The header dict is parsed by key, so any key order and spacing NumPy writes is accepted.
#include "io/npy.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/limits.h"
#include "io/atomic_file.h"

namespace cuviz {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

// The text after `'key':` up to the next top-level comma or closing brace (shape tuples kept whole).
std::string header_value(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  size_t at = header.find(quoted);
  CUVIZ_CHECK(at != std::string::npos, "npy: ", path, ": header has no ", quoted, " entry: ", header);
  at = header.find(':', at + quoted.size());
  CUVIZ_CHECK(at != std::string::npos, "npy: ", path, ": malformed header: ", header);
  ++at;
  while (at < header.size() && header[at] == ' ') ++at;
  size_t end = at;
  int depth = 0;
  while (end < header.size()) {
    const char ch = header[end];
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
    if (depth == 0 && (ch == ',' || ch == '}')) break;
    ++end;
  }
  std::string v = header.substr(at, end - at);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& path) {
  CUVIZ_CHECK(text.size() >= 2 && text.front() == '(' && text.back() == ')', "npy: ", path,
              ": malformed shape ", text);
  std::vector<int64_t> dims;
  std::string num;
  for (size_t i = 1; i + 1 <= text.size(); ++i) {
    const char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      num += ch;
      // 18 digits always fit an int64_t: longer numbers are refused before std::stoll could throw.
      CUVIZ_CHECK(num.size() <= 18, "npy: ", path, ": shape ", text, " has a dimension of more than 18 digits");
    } else if (ch == ',' || ch == ')') {
      if (!num.empty()) dims.push_back(std::stoll(num));
      num.clear();
    } else {
      CUVIZ_CHECK(ch == ' ' || ch == 'L', "npy: ", path, ": malformed shape ", text);
    }
  }
  return dims;
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CUVIZ_CHECK(in, "npy: cannot open ", path);
  char pre[8];
  in.read(pre, 8);
  CUVIZ_CHECK(in.gcount() == 8 && std::memcmp(pre, kMagic, 6) == 0, "npy: ", path,
              " is not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(pre[6]);
  CUVIZ_CHECK(major >= 1 && major <= 3, "npy: ", path, ": unsupported format version ", major, ".",
              int(static_cast<unsigned char>(pre[7])));
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    CUVIZ_CHECK(in.gcount() == 2, "npy: ", path, ": truncated header");
    header_len = b[0] | (uint32_t(b[1]) << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    CUVIZ_CHECK(in.gcount() == 4, "npy: ", path, ": truncated header");
    header_len = b[0] | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16) | (uint32_t(b[3]) << 24);
  }
  CUVIZ_CHECK(header_len < (1u << 24), "npy: ", path, ": implausible header length ", header_len);
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  CUVIZ_CHECK(size_t(in.gcount()) == header_len, "npy: ", path, ": truncated header");

  const std::string descr = header_value(header, "descr", path);
  CUVIZ_CHECK(descr == "'<f4'", "npy: ", path, ": dtype ", descr,
              " is not supported (only little-endian float32 '<f4')");
  const std::string fortran = header_value(header, "fortran_order", path);
  CUVIZ_CHECK(fortran == "False", "npy: ", path, ": fortran_order ", fortran,
              " is not supported (only C order)");
  NpyArray a;
  a.dims = parse_shape(header_value(header, "shape", path), path);
  const int64_t count = checked_numel(a.dims, cat("npy: ", path, ": shape"));
  // The data must be in the file before any of it is allocated: a 140-byte file claiming 2^32
  // elements is refused here, not after reading gigabytes.
  const int64_t want = count * int64_t(sizeof(float));
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(path, ec);
  const int64_t have = ec ? want : int64_t(file_bytes) - int64_t(in.tellg());
  CUVIZ_CHECK(have >= want, "npy: ", path, ": truncated data: ", std::max<int64_t>(have, 0), " of ", want, " bytes");
  a.data.resize(size_t(count));
  if (count > 0) in.read(reinterpret_cast<char*>(a.data.data()), std::streamsize(want));
  CUVIZ_CHECK(count == 0 || in.gcount() == std::streamsize(want), "npy: ", path, ": truncated data: ", in.gcount(),
              " of ", want, " bytes");
  return a;
}

std::string encode_npy(const std::string& path, const float* data, const std::vector<int64_t>& dims) {
  const int64_t count = checked_numel(dims, cat("npy: ", path, ": shape"));
  for (int64_t k = 0; k < count; ++k)
    CUVIZ_CHECK(std::isfinite(data[k]), "npy: ", path, ": element ", k, " is ", data[k],
                " (not finite); nothing is written");
  // Python tuple syntax: (7,) for one dim, (1, 3, 224, 224) otherwise.
  std::string shape = "(";
  for (size_t i = 0; i < dims.size(); ++i) shape += (i ? ", " : "") + std::to_string(dims[i]);
  shape += dims.size() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  CUVIZ_CHECK(header.size() < 65536, "npy: ", path, ": shape too long for a version 1.0 header");

  std::string bytes(kMagic, 6);
  bytes += '\x01';
  bytes += '\x00';
  bytes += char(header.size() & 0xff);
  bytes += char(header.size() >> 8);
  bytes += header;
  if (count > 0) bytes.append(reinterpret_cast<const char*>(data), size_t(count) * sizeof(float));
  return bytes;
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& dims) {
  // Temporary file + rename: a failed write leaves neither a partial file nor the temporary.
  write_file_atomic(path, encode_npy(path, data, dims));
}

OwnedTensor read_npy_tensor(const std::string& path) {
  NpyArray a = read_npy(path);
  const auto& d = a.dims;
  auto dim = [&](size_t i) { return checked_dim(d[i], cat("npy: ", path, ": shape"), /*allow_zero=*/true); };
  Shape s;
  switch (d.size()) {
    case 1: s = {1, dim(0), 1, 1}; break;
    case 2: s = {dim(0), dim(1), 1, 1}; break;
    case 3: s = {1, dim(0), dim(1), dim(2)}; break;
    case 4: s = {dim(0), dim(1), dim(2), dim(3)}; break;
    default: throw Error(cat("npy: ", path, ": rank ", d.size(), " cannot be read as an NCHW tensor (rank 1 to 4)"));
  }
  OwnedTensor t(s);
  if (!a.data.empty()) std::memcpy(t.data(), a.data.data(), a.data.size() * sizeof(float));  // no null memcpy
  return t;
}

std::string encode_npy(const std::string& path, const Tensor& t) {
  CUVIZ_CHECK(t.device() == Device::cpu, "npy: ", path, ": tensor must be on the CPU, got ", device_name(t.device()));
  std::vector<float> dense(size_t(t.numel()));
  if (t.numel() > 0)
    for (int i = 0; i < t.n(); ++i)
      std::memcpy(dense.data() + int64_t(i) * t.shape().image_size(), t.image(i),
                  t.shape().image_size() * sizeof(float));
  return encode_npy(path, dense.data(), {t.n(), t.c(), t.h(), t.w()});
}

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, encode_npy(path, t)); }

}  // namespace cuviz
