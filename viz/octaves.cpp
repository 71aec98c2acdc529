// Octaves and tiles around the render loop (viz/octaves.h). Both run on the host between loop
// runs or Attributor passes (a resize per octave, a copy per tile), so they work for any device.
#include "viz/octaves.h"

#include <algorithm>
#include <cmath>

#include "viz/method_ops.h"

namespace cuviz {

std::vector<int> octave_sizes(int size, const OctaveSpec& spec) {
  CUVIZ_CHECK(spec.octaves >= 1 && spec.scale > 1.f && spec.steps >= 0, "octaves: need octaves >= 1, scale > 1 and "
              "steps >= 0, got ", spec.octaves, ", ", spec.scale, ", ", spec.steps);
  std::vector<int> sizes = {size};
  for (int k = 1; k < spec.octaves; ++k) {
    const int s = int(std::lround(double(sizes.back()) / double(spec.scale)));
    CUVIZ_CHECK(s >= 8, "octaves: octave ", k, " of ", size, " px at scale ", spec.scale, " would be ", s,
                " px (the loop's minimum is 8); use fewer octaves or a larger image");
    sizes.push_back(s);
  }
  return sizes;
}

OwnedTensor resize_tensor(const Tensor& t, int h, int w) {
  CUVIZ_CHECK(t.device() == Device::cpu && h > 0 && w > 0, "resize: expects a CPU tensor and a positive size, got ",
              t.shape().str(), " to ", h, "x", w);
  OwnedTensor out(Shape{t.n(), t.c(), h, w});
  resize_forward(t, out);  // viz/method_ops.h: antialiased when shrinking, plain bilinear when growing
  return out;
}

OctaveResult render_octaves(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                            const Tensor& base, const OctaveSpec& spec,
                            const std::function<void(const RenderProgress&)>& progress) {
  CUVIZ_CHECK(options.param == ParamKind::input, "octaves: the detail is carried in the network's input space; use "
              "param input (got ", param_kind_name(options.param), ")");
  CUVIZ_CHECK(base.device() == Device::cpu && base.c() == 3 && (base.n() == 1 || base.n() == options.batch),
              "octaves: the base must be a CPU network input (1 or ", options.batch, ", 3, H, W), got ",
              base.shape().str());
  const std::vector<int> sizes = octave_sizes(base.h(), spec), widths = octave_sizes(base.w(), spec);
  std::vector<OwnedTensor> bases;
  bases.emplace_back(Shape{options.batch, 3, base.h(), base.w()});  // one base per image
  for (int i = 0; i < options.batch; ++i) copy(base.batch(base.n() == 1 ? 0 : i, 1), bases.back().batch(i, 1));
  for (size_t k = 1; k < sizes.size(); ++k) bases.push_back(resize_tensor(bases.back(), sizes[k], widths[k]));

  OctaveResult result;
  OwnedTensor detail;  // empty before the smallest octave
  for (size_t k = sizes.size(); k-- > 0;) {
    const Tensor& b = bases[k];
    OwnedTensor start(b.shape());
    copy(b, start);
    if (detail.numel() > 0) {  // carry the detail up: start = base_k + resize(detail)
      const OwnedTensor up = resize_tensor(detail, b.h(), b.w());
      for (int64_t i = 0; i < start.numel(); ++i) start.data()[i] += up.data()[i];
    }
    RenderOptions o = options;
    o.size = std::max(sizes[k], widths[k]);
    o.height = sizes[k];
    o.width = widths[k];
    o.ops.roll = std::min(o.ops.roll, std::min(sizes[k], widths[k]) - 1);
    o.steps = spec.steps;
    o.source = ImageSource::from_input(start);
    Renderer r(net, per_image, o);
    result.objective_start.push_back(r.evaluate(0, false));
    RenderResult rr = render_loop(r, progress);
    OwnedTensor x(r.params().shape());
    copy(r.params(), x);
    result.sizes.push_back(sizes[k]);
    result.widths.push_back(widths[k]);
    result.objective.push_back(rr.objective);
    if (k == 0) {
      result.input = std::move(x);
      result.images = std::move(rr.images);
      break;
    }
    detail = OwnedTensor(x.shape());
    for (int n = 0; n < x.n(); ++n)
      for (int64_t i = 0; i < x.shape().image_size(); ++i)
        detail.image(n)[i] = x.image(n)[i] - b.image(n)[i];
  }
  return result;
}

OctaveResult render_schedule(const Network& net, const RenderOptions& options, const Tensor& start,
                             const std::vector<ScheduledOctave>& octaves,
                             const std::function<void(const RenderProgress&)>& progress) {
  CUVIZ_CHECK(options.param == ParamKind::input, "octave schedule: the image is carried in the network's input space; "
              "use param input (got ", param_kind_name(options.param), ")");
  CUVIZ_CHECK(!octaves.empty(), "octave schedule: no octaves");
  CUVIZ_CHECK(start.device() == Device::cpu && start.c() == 3 && start.n() == options.batch &&
                  start.h() == octaves[0].height && start.w() == octaves[0].width,
              "octave schedule: the start must be a CPU network input (", options.batch, ", 3, ", octaves[0].height,
              ", ", octaves[0].width, "), got ", start.shape().str());
  OctaveResult result;
  OwnedTensor x(start.shape());
  copy(start, x);
  for (size_t k = 0; k < octaves.size(); ++k) {
    const ScheduledOctave& oct = octaves[k];
    CUVIZ_CHECK(oct.height >= 8 && oct.width >= 8 && oct.steps >= 0 && oct.lr > 0.f, "octave schedule: octave ", k,
                " is ", oct.height, "x", oct.width, " with ", oct.steps, " steps at lr ", oct.lr,
                " (need >= 8 px, steps >= 0, lr > 0)");
    if (x.h() != oct.height || x.w() != oct.width) x = resize_tensor(x, oct.height, oct.width);
    RenderOptions o = options;
    o.size = std::max(oct.height, oct.width);
    o.height = oct.height;
    o.width = oct.width;
    o.steps = oct.steps;
    o.ops = oct.ops;
    o.sgd.lr = oct.lr;
    o.source = ImageSource::from_input(x);
    Renderer r(net, oct.objectives, o);
    result.objective_start.push_back(r.evaluate(0, false));
    RenderResult rr = render_loop(r, progress);
    x = OwnedTensor(r.params().shape());
    copy(r.params(), x);
    result.sizes.push_back(oct.height);
    result.widths.push_back(oct.width);
    result.objective.push_back(rr.objective);
    result.images = std::move(rr.images);
  }
  result.input = std::move(x);
  return result;
}

TiledGradient::TiledGradient(const Network& net, const Objective& objective, int tile)
    : net_(net), objective_(objective), tile_(tile) {
  CUVIZ_CHECK(tile >= 8, "tiles: tile size ", tile, " must be >= 8");
}

Attributor& TiledGradient::attributor(int h, int w) {
  for (auto& a : attributors_)
    if (a->input_shape() == Shape{1, 3, h, w}) return *a;
  attributors_.push_back(std::make_unique<Attributor>(net_, std::vector<Objective>{objective_}, Shape{1, 3, h, w}));
  return *attributors_.back();
}

namespace {

// The cuts of `n` pixels into ceil(n / tile) tiles of equal size within a pixel: tile k spans
// [cut[k], cut[k + 1]).
std::vector<int> tile_cuts(int n, int tile) {
  const int count = (n + tile - 1) / tile;
  std::vector<int> cuts;
  for (int k = 0; k <= count; ++k) cuts.push_back(int(int64_t(n) * k / count));
  return cuts;
}

}  // namespace

OwnedTensor TiledGradient::gradient(const Tensor& x, uint64_t seed, uint64_t step) {
  CUVIZ_CHECK(x.device() == Device::cpu && x.n() == 1 && x.c() == 3, "tiles: expects one CPU network input "
              "(1, 3, H, W), got ", x.shape().str());
  const int h = x.h(), w = x.w(), shift = std::min(tile_ / 2, std::min(h, w) - 1);
  OwnedTensor rolled(x.shape()), grad(x.shape()), out(x.shape());
  roll_forward(shift, seed, StepIndex(step), x, rolled);
  const std::vector<int> ys = tile_cuts(h, tile_), xs = tile_cuts(w, tile_);
  objective_value_ = 0;
  for (size_t i = 0; i + 1 < ys.size(); ++i)
    for (size_t j = 0; j + 1 < xs.size(); ++j) {
      const int ty = ys[i], tx = xs[j], th = ys[i + 1] - ty, tw = xs[j + 1] - tx;
      const float weight = float(double(th) * tw / (double(h) * w));
      OwnedTensor piece(Shape{1, 3, th, tw});
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < th; ++y)
          for (int xx = 0; xx < tw; ++xx) piece.at(0, c, y, xx) = rolled.at(0, c, ty + y, tx + xx);
      Attributor& a = attributor(th, tw);
      const OwnedTensor g = a.gradient(piece);
      objective_value_ += double(weight) * a.objectives()[0];
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < th; ++y)
          for (int xx = 0; xx < tw; ++xx) grad.at(0, c, ty + y, tx + xx) = weight * g.at(0, c, y, xx);
    }
  roll_backward(shift, seed, StepIndex(step), grad, out);
  return out;
}

double TiledGradient::value(const Tensor& x) {
  CUVIZ_CHECK(x.device() == Device::cpu && x.n() == 1 && x.c() == 3, "tiles: expects one CPU network input "
              "(1, 3, H, W), got ", x.shape().str());
  const int h = x.h(), w = x.w();
  const std::vector<int> ys = tile_cuts(h, tile_), xs = tile_cuts(w, tile_);
  double total = 0;
  for (size_t i = 0; i + 1 < ys.size(); ++i)
    for (size_t j = 0; j + 1 < xs.size(); ++j) {
      const int ty = ys[i], tx = xs[j], th = ys[i + 1] - ty, tw = xs[j + 1] - tx;
      OwnedTensor piece(Shape{1, 3, th, tw});
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < th; ++y)
          for (int xx = 0; xx < tw; ++xx) piece.at(0, c, y, xx) = x.at(0, c, ty + y, tx + xx);
      total += double(th) * tw / (double(h) * w) * attributor(th, tw).values(piece)[0];
    }
  return total;
}

}  // namespace cuviz
