// Concatenation along channels on the CPU and the dispatch to CUDA: y = [x_0; x_1; ...] per image,
// i.e. y[n, off_i + c] = x_i[n, c] with off_i = sum_{j<i} C_j; backward: dx_i = dy[:, off_i : off_i + C_i].
// Inputs and output may be strided (channel-slice views); an input that already is its slice of y is skipped.
#include "kernels/concat.h"

#include <cstring>
#include <vector>

#include "core/check.h"
#include "kernels/cuda_ops.h"

namespace cuviz {

namespace {

std::vector<Shape> shapes_of(std::span<const Tensor> ts) {
  std::vector<Shape> s;
  for (const Tensor& t : ts) s.push_back(t.shape());
  return s;
}

// Throws unless every part and `whole` are defined and on one device; returns that device.
Device check_devices(const char* op, std::span<const Tensor> parts, const Tensor& whole) {
  CUVIZ_CHECK(whole.defined(), op, ": output/gradient tensor has no data");
  for (size_t i = 0; i < parts.size(); ++i) {
    CUVIZ_CHECK(parts[i].defined(), op, ": tensor ", i, " has no data");
    CUVIZ_CHECK(parts[i].device() == whole.device(), op, ": tensor ", i, " is on ", device_name(parts[i].device()),
                ", the concatenation on ", device_name(whole.device()));
  }
  return whole.device();
}

// Copies every image of src into dst (same shape); nothing to do when they are the same view.
void copy_images(const Tensor& src, const Tensor& dst) {
  if (src.data() == dst.data() && src.batch_stride() == dst.batch_stride()) return;
  const size_t bytes = size_t(src.shape().image_size()) * sizeof(float);
  for (int n = 0; n < src.n(); ++n) std::memmove(dst.image(n), src.image(n), bytes);
}

}  // namespace

Shape concat_output_shape(std::span<const Shape> xs) {
  CUVIZ_CHECK(!xs.empty(), "concat: no inputs");
  Shape out = xs[0];
  out.c = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i];
    CUVIZ_CHECK(s.n > 0 && s.c > 0 && s.h > 0 && s.w > 0, "concat: input ", i, " has a zero-sized dimension ",
                s.str());
    CUVIZ_CHECK(s.n == xs[0].n && s.h == xs[0].h && s.w == xs[0].w, "concat: input ", i, " has shape ", s.str(),
                ", input 0 has ", xs[0].str(), " (n, h and w must agree)");
    out.c += s.c;
  }
  return out;
}

void concat_forward(std::span<const Tensor> xs, const Tensor& y) {
  const std::vector<Shape> shapes = shapes_of(xs);
  check_shape("concat_forward", "y", y, concat_output_shape(shapes));
  if (check_devices("concat_forward", xs, y) == Device::cuda) return concat_forward_cuda(xs, y);
  int c0 = 0;
  for (const Tensor& x : xs) {
    copy_images(x, y.channels(c0, x.c()));
    c0 += x.c();
  }
}

void concat_backward_data(const Tensor& dy, std::span<const Tensor> dxs) {
  const std::vector<Shape> shapes = shapes_of(dxs);
  check_shape("concat_backward_data", "dy", dy, concat_output_shape(shapes));
  if (check_devices("concat_backward_data", dxs, dy) == Device::cuda) return concat_backward_data_cuda(dy, dxs);
  int c0 = 0;
  for (const Tensor& dx : dxs) {
    copy_images(dy.channels(c0, dx.c()), dx);
    c0 += dx.c();
  }
}

}  // namespace cuviz
