// Tensor views, owning buffers and arenas: the memory model of cuviz.
//   Tensor  : a non-owning NCHW view (pointer, shape, batch stride, device). Copies are cheap.
//   Buffer  : a move-only owner of raw bytes on the CPU or a CUDA device.
//   Arena   : one Buffer carved into 256-byte-aligned tensors (one allocation per plan).
// Layout rule: within one image the C x H x W block is dense; images may sit at any batch
// stride, so a view of channels [c0, c0+k) of a larger tensor is a valid Tensor. That is what
// lets the branches of an inception block write straight into their slice of the concat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "core/error.h"

namespace cuviz {

enum class Device { cpu, cuda };

// "cpu" or "cuda".
const char* device_name(Device d);

// An NCHW shape. Fully connected activations are {n, features, 1, 1}.
struct Shape {
  int n = 0, c = 0, h = 0, w = 0;

  int64_t numel() const { return int64_t(n) * c * h * w; }
  // Elements of one image (C * H * W).
  int64_t image_size() const { return int64_t(c) * h * w; }
  bool empty() const { return numel() == 0; }
  bool operator==(const Shape&) const = default;
  // "[n, c, h, w]".
  std::string str() const;
};

// A non-owning view of float (or double, for the double-precision references) data.
template <class T>
class BasicTensor {
 public:
  BasicTensor() = default;
  // A dense view: images packed one after another.
  BasicTensor(T* data, Shape shape, Device device = Device::cpu)
      : data_(data), shape_(shape), batch_stride_(shape.image_size()), device_(device) {}
  // A view whose images are `batch_stride` elements apart (>= C*H*W).
  BasicTensor(T* data, Shape shape, int64_t batch_stride, Device device)
      : data_(data), shape_(shape), batch_stride_(batch_stride), device_(device) {
    CUVIZ_CHECK(batch_stride >= shape.image_size() || shape.n <= 1, "tensor: batch stride ",
                batch_stride, " smaller than one image of ", shape.str());
  }

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int n() const { return shape_.n; }
  int c() const { return shape_.c; }
  int h() const { return shape_.h; }
  int w() const { return shape_.w; }
  int64_t numel() const { return shape_.numel(); }
  Device device() const { return device_; }
  bool defined() const { return data_ != nullptr; }
  // Elements between the starts of consecutive images.
  int64_t batch_stride() const { return batch_stride_; }
  // True when the whole tensor is one dense block.
  bool contiguous() const { return shape_.n <= 1 || batch_stride_ == shape_.image_size(); }

  // Pointer to image i (its dense C x H x W block).
  T* image(int i) const { return data_ + int64_t(i) * batch_stride_; }
  // Element access for CPU tensors (tests, references).
  T& at(int n, int c, int h, int w) const {
    return data_[int64_t(n) * batch_stride_ + (int64_t(c) * shape_.h + h) * shape_.w + w];
  }
  // View of channels [c0, c0 + count) of every image.
  BasicTensor channels(int c0, int count) const {
    CUVIZ_CHECK(c0 >= 0 && count >= 0 && c0 + count <= shape_.c, "tensor: channel slice [", c0,
                ", ", c0 + count, ") out of range for ", shape_.str());
    return BasicTensor(data_ + int64_t(c0) * shape_.h * shape_.w,
                       Shape{shape_.n, count, shape_.h, shape_.w}, batch_stride_, device_);
  }
  // View of images [n0, n0 + count).
  BasicTensor batch(int n0, int count) const {
    CUVIZ_CHECK(n0 >= 0 && count >= 0 && n0 + count <= shape_.n, "tensor: batch slice [", n0,
                ", ", n0 + count, ") out of range for ", shape_.str());
    return BasicTensor(data_ + int64_t(n0) * batch_stride_, Shape{count, shape_.c, shape_.h, shape_.w},
                       batch_stride_, device_);
  }
  // The same dense data under another shape with the same number of elements.
  BasicTensor reshaped(Shape s) const {
    CUVIZ_CHECK(contiguous(), "tensor: cannot reshape a strided view of ", shape_.str());
    CUVIZ_CHECK(s.numel() == numel(), "tensor: cannot reshape ", shape_.str(), " to ", s.str());
    return BasicTensor(data_, s, device_);
  }

 private:
  T* data_ = nullptr;
  Shape shape_{};
  int64_t batch_stride_ = 0;
  Device device_ = Device::cpu;
};

using Tensor = BasicTensor<float>;
using TensorD = BasicTensor<double>;

// Move-only owner of `bytes` bytes on `device`, 256-byte aligned. Never copied by accident.
class Buffer {
 public:
  Buffer() = default;
  Buffer(size_t bytes, Device device);
  // Page-locked host memory (device cpu) for asynchronous copies to and from a GPU; needs CUDA.
  static Buffer pinned(size_t bytes);
  ~Buffer();
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_ = Device::cpu;
  bool pinned_ = false;
};

// A tensor together with the buffer that holds it (tests, weights, small owned results).
// It is a Tensor, so it passes wherever a view is expected; moving it keeps the data in place.
template <class T>
class BasicOwnedTensor : public BasicTensor<T> {
 public:
  BasicOwnedTensor() = default;
  explicit BasicOwnedTensor(Shape shape, Device device = Device::cpu)
      : BasicOwnedTensor(Buffer(size_t(shape.numel()) * sizeof(T), device), shape) {}
  BasicTensor<T>& view() { return *this; }
  const BasicTensor<T>& view() const { return *this; }

 private:
  BasicOwnedTensor(Buffer b, Shape shape)
      : BasicTensor<T>(static_cast<T*>(b.data()), shape, b.device()), buffer_(std::move(b)) {}
  Buffer buffer_;
};

using OwnedTensor = BasicOwnedTensor<float>;
using OwnedTensorD = BasicOwnedTensor<double>;

// One allocation carved into tensors. Usage: count what you need with `bytes_for`, build the
// arena once, then `alloc` each tensor; nothing is freed until the arena dies.
class Arena {
 public:
  static constexpr size_t kAlign = 256;
  Arena() = default;
  Arena(size_t bytes, Device device) : buffer_(bytes, device) {}

  // Bytes an arena needs for a tensor of `shape` (rounded up to the alignment).
  static size_t bytes_for(Shape shape) { return round_up(size_t(shape.numel()) * sizeof(float)); }
  static size_t round_up(size_t b) { return (b + kAlign - 1) / kAlign * kAlign; }

  // Carves the next tensor; throws when the arena is full.
  Tensor alloc(Shape shape);
  size_t used() const { return used_; }
  size_t capacity() const { return buffer_.bytes(); }
  Device device() const { return buffer_.device(); }
  // Forgets every tensor carved so far (their memory is reused by later allocs).
  void reset() { used_ = 0; }

 private:
  Buffer buffer_;
  size_t used_ = 0;
};

// True when a CUDA device can be used (built with CUDA and the driver reports >= 1 device).
// Any error from the runtime (no driver, no device) counts as "no device".
bool cuda_available();

// Copies src into dst (same shape; any pair of devices; strided views allowed). GPU copies run on
// the calling thread's current stream (kernels/backend.h); a copy that involves the host returns
// when it is done, a device-to-device copy is queued.
void copy(const Tensor& src, const Tensor& dst);
// Sets every element of t to v.
void fill(const Tensor& t, float v);

}  // namespace cuviz
