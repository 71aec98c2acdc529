// Class models and fooling images as configurations of the render loop (viz/class_model.h).
#include "viz/class_model.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <set>

#include "core/interrupt.h"
#include "core/suggest.h"
#include "loaders/preprocess.h"
#include "viz/image_source.h"
#include "viz/random.h"

namespace cuviz {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// The comma-separated names of a label, trimmed and lower-cased.
std::vector<std::string> names_of(const Label& l) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= l.names.size()) {
    const size_t end = l.names.find(',', pos);
    const std::string n = lower(trimmed(l.names.substr(pos, end == std::string::npos ? std::string::npos : end - pos)));
    if (!n.empty()) out.push_back(n);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string FoolSettings::fool_source_problem(const std::string& text) {
  if (text == "noise") return "";
  const std::string l = lower(text);
  for (const char* ext : {".png", ".jpg", ".jpeg"})
    if (l.size() > std::string(ext).size() && l.ends_with(ext)) return "";
  return "neither noise nor a photo (.png, .jpg, .jpeg)";
}

int resolve_class(const std::string& text, const std::vector<Label>& labels, int num_classes) {
  const std::string t = trimmed(text);
  CUVIZ_CHECK(!t.empty(), "class: empty (give an index or a label name)");
  if (std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    CUVIZ_CHECK(t.size() < 10 && std::stol(t) < num_classes, "class ", t, " is out of range (the model has ",
                num_classes, " classes: 0 to ", num_classes - 1, ")");
    return int(std::stol(t));
  }
  CUVIZ_CHECK(!labels.empty(), "class '", t, "': the model has no labels file, so give the class as an index (0 to ",
              num_classes - 1, ")");
  const std::string want = lower(t);
  std::vector<int> exact;
  std::vector<std::string> all;  // every name once, in label order
  std::set<std::string> seen;
  for (size_t i = 0; i < labels.size(); ++i)
    for (const auto& n : names_of(labels[i])) {
      if (n == want && (exact.empty() || exact.back() != int(i))) exact.push_back(int(i));
      if (seen.insert(n).second) all.push_back(n);
    }
  if (exact.size() == 1) return exact[0];
  if (exact.size() > 1) {
    std::string which;
    for (int i : exact) which += cat(which.empty() ? "" : ", ", i, " (", labels[size_t(i)].names, ")");
    throw Error(cat("class '", t, "' names ", exact.size(), " classes: ", which, "; give the index"));
  }
  std::string near = did_you_mean(want, all, std::max<size_t>(2, want.size() / 3), 5);
  if (near.empty()) {  // names containing what was typed ("retriever" -> golden retriever, ...)
    std::vector<std::string> containing;
    for (const auto& n : all)
      if (n.find(want) != std::string::npos) containing.push_back(n);
    if (!containing.empty()) near = cat("; names containing it: ", listing(containing, 8));
  }
  throw Error(cat("unknown class '", t, "'", near.empty() ? "; give an index (0 to " + std::to_string(num_classes - 1) +
                                                              ") or a name from the labels file"
                                                        : near));
}

ImageScorer::ImageScorer(const Network& net) : net_(net) {
  const Graph& g = net.graph();
  CUVIZ_CHECK(!g.layers.empty(), "model ", g.name, " has no layers");
  logit_blob_ = class_logit_layer(g);
  last_blob_ = g.layers.back().output;
  last_is_softmax_ = g.layers.back().kind == LayerKind::softmax;
  const int s = g.meta.input_size;
  plan_ = net.plan(Shape{1, 3, s, s}, {logit_blob_, last_blob_});
  const Tensor out = net.activation(plan_, last_blob_);
  CUVIZ_CHECK(out.h() == 1 && out.w() == 1, "model ", g.name, ": the last layer gives ", out.shape().str(),
              ", not one score per class");
  classes_ = out.c();
}

ClassScore ImageScorer::score(const Image& image, int k) {
  CUVIZ_CHECK(k >= 0 && k < classes_, "class ", k, " out of range (0 to ", classes_ - 1, ")");
  const OwnedTensor x = preprocess(image, net_.graph().meta);  // exactly what `cuviz classify` feeds
  net_.forward(plan_, x);
  OwnedTensor logits(net_.activation(plan_, logit_blob_).shape()), last(net_.activation(plan_, last_blob_).shape());
  net_.read_activation(plan_, logit_blob_, logits);
  net_.read_activation(plan_, last_blob_, last);
  std::vector<double> p(static_cast<size_t>(classes_));
  const float* z = last.image(0);
  if (last_is_softmax_) {
    for (int j = 0; j < classes_; ++j) p[size_t(j)] = z[j];
  } else {  // as classify: softmax in double
    const double zmax = *std::max_element(z, z + classes_);
    double sum = 0;
    for (int j = 0; j < classes_; ++j) sum += p[size_t(j)] = std::exp(double(z[j]) - zmax);
    for (double& v : p) v /= sum;
  }
  ClassScore s;
  s.top = int(std::max_element(p.begin(), p.end()) - p.begin());  // first of equals, as classify's order
  s.top_p = p[size_t(s.top)];
  s.p = p[size_t(k)];
  s.logit = logits.image(0)[k];
  return s;
}

namespace {
// What class models and fooling images share: plain SGD ascent on the network input itself
// (ParamKind::input), no transformation robustness, no ReLU override.
RenderOptions ascent_on_input(int size, int steps, const std::string& source, uint64_t seed, double lr,
                              Device device) {
  RenderOptions ro;
  ro.size = size;
  ro.steps = steps;
  ro.param = ParamKind::input;
  ro.source = ImageSource::parse(source);
  ro.transforms = TransformSpec::none();
  ro.relu_override_steps = 0;
  ro.seed = seed;
  ro.optimizer = OptimizerKind::sgd;
  ro.sgd.lr = float(lr);
  ro.device = device;
  return ro;
}
}  // namespace

RenderOptions class_model_options(const ClassModelSettings& s, Device device) {
  check_settings(s);
  // Starts at x = 0: the dataset mean, Simonyan's zero image.
  RenderOptions ro = ascent_on_input(s.size, s.steps, "zeros", s.seed, s.lr, device);
  ro.sgd.momentum = float(s.momentum);
  ro.ops.l2_decay = float(2 * s.lambda);  // d/dx lambda ||x||^2
  ro.ops.clip = s.clip;
  return ro;
}

std::vector<ScheduledOctave> deepdraw_schedule(int crop, int k, const ClassModelSettings& s) {
  check_settings(s);
  CUVIZ_CHECK(s.size >= crop, "deepdraw: --size ", s.size, " is smaller than the network's input size ", crop);
  std::vector<ScheduledOctave> out;
  int side = s.size;
  for (const DeepdrawOctave& d : deepdraw_octaves()) {
    side = int(std::lround(side * d.scale));  // scipy.ndimage.zoom's output size
    ScheduledOctave o;
    o.height = o.width = side;
    o.steps = d.iters;
    o.objectives = {class_logit("logit", k)};
    // deepdraw's value at step i is start + (end - start) i / n for i < n; linear_schedule's is
    // start + (end' - start) i / (n - 1), the same with end' = start + (end - start) (n - 1) / n.
    const double f = d.iters > 1 ? double(d.iters - 1) / d.iters : 0.0;
    o.ops.blur_sigma_start = float(d.sigma_start);
    o.ops.blur_sigma_end = float(d.sigma_start + (d.sigma_end - d.sigma_start) * f);
    o.ops.grad_norm = GradNorm::mean_abs;
    o.ops.step_scale_end = float((d.step_start + (d.step_end - d.step_start) * f) / d.step_start);
    o.ops.clip = true;
    o.ops.crop = crop;
    // deepdraw divides the crop's gradient by ITS mean |g|; the loop's normalisation takes the mean
    // over the whole image, where the gradient is zero outside the crop, so it is crop^2 / side^2
    // of the crop's mean. The learning rate times that ratio gives deepdraw's step exactly.
    o.lr = float(d.step_start * double(crop) * crop / (double(side) * side));
    out.push_back(o);
  }
  return out;
}

OwnedTensor deepdraw_start(const ModelMeta& meta, int size, uint64_t seed) {
  OwnedTensor image(Shape{1, 3, size, size});
  for (int64_t i = 0; i < image.numel(); ++i) {
    const double v = kDeepdrawBackground + kDeepdrawNoise * random_normal(seed, kStreamParamInit, uint64_t(i));
    image.data()[i] = float(std::clamp(v, 0.0, 1.0));
  }
  return input_from_image(image, meta);
}

ClassModelResult class_model(const Network& net, int k, const ClassModelSettings& s, bool cuda_graph,
                             const std::function<void(const ClassModelProgress&)>& progress) {
  ClassModelResult res;
  const auto t0 = std::chrono::steady_clock::now();
  if (s.method == "simonyan") {
    RenderOptions ro = class_model_options(s, net.device());
    ro.cuda_graph = cuda_graph;
    const RenderResult r = render(net, {class_logit("logit", k)}, ro, [&](const RenderProgress& p) {
      if (progress) progress(ClassModelProgress{0, 1, p.step, p.steps, p.objective[0], p.seconds});
    });
    res.images = OwnedTensor(r.images.shape());
    copy(r.images, res.images);
    res.logit = r.objective[0];
    res.history_steps = r.history_steps;
    res.history = r.history;
    res.seconds = seconds_since(t0);
    return res;
  }
  CUVIZ_CHECK(s.method == "deepdraw", "classviz: unknown method '", s.method, "' (simonyan, deepdraw)");
  const std::vector<ScheduledOctave> octaves = deepdraw_schedule(net.graph().meta.input_size, k, s);
  // What the octaves share: plain SGD on the network input, no transforms, no override.
  RenderOptions ro = ascent_on_input(s.size, 0, "zeros", s.seed, 1.0, net.device());
  ro.sgd.momentum = 0.f;
  ro.progress_every = 10;
  ro.cuda_graph = cuda_graph;
  const OwnedTensor start = deepdraw_start(net.graph().meta, s.size, s.seed);
  int octave = 0, done_before = 0;
  const OctaveResult r = render_schedule(net, ro, start, octaves, [&](const RenderProgress& p) {
    res.history_steps.push_back(done_before + p.step);
    res.history.push_back(p.objective);
    if (progress)
      progress(ClassModelProgress{octave, int(octaves.size()), p.step, p.steps, p.objective[0], p.seconds});
    if (p.step == p.steps) {
      done_before += p.steps;
      ++octave;
    }
  });
  res.images = OwnedTensor(r.images.shape());
  copy(r.images, res.images);
  res.logit = r.objective.back()[0];
  for (size_t i = 0; i < r.sizes.size(); ++i) {
    res.octave_sizes.push_back(r.sizes[i]);
    res.octave_logit_start.push_back(r.objective_start[i][0]);
    res.octave_logit_end.push_back(r.objective[i][0]);
  }
  res.seconds = seconds_since(t0);
  return res;
}

RenderOptions fool_options(const FoolSettings& s, Device device) {
  check_settings(s);
  RenderOptions ro = ascent_on_input(s.size, s.max_steps, s.from, s.seed, s.lr, device);
  ro.sgd.momentum = 0.f;
  ro.ops.grad_norm = GradNorm::mean_abs;
  ro.ops.clip = true;
  ro.progress_every = s.check_every;
  return ro;
}

FoolResult fool(const Network& net, int k, const FoolSettings& s,
                const std::function<void(const FoolProgress&)>& progress) {
  const RenderOptions ro = fool_options(s, net.device());
  Renderer r(net, {class_logit("logit", k)}, ro);
  ImageScorer scorer(net);
  FoolResult res;
  res.images = OwnedTensor(Shape{1, 3, s.size, s.size});
  const auto t0 = std::chrono::steady_clock::now();
  InterruptScope interruptible;  // Ctrl-C / SIGTERM: stop between two steps (core/interrupt.h)
  for (int t = 0; t < s.max_steps && !res.reached; ++t) {
    check_interrupt(cat("stopped at step ", t, " of at most ", s.max_steps, "; the image was not written"));
    r.step();
    const int done = t + 1;
    FoolProgress p;
    p.step = done;
    p.max_steps = s.max_steps;
    if (done % s.check_every == 0 || done == s.max_steps) {
      p.objective = r.last_objectives()[0];
      r.images(res.images);
      res.png = tensor_to_image(res.images, 0);
      res.score = scorer.score(res.png, k);
      res.reached = res.score.p >= s.target_confidence;
      res.steps = done;
      res.checked_steps.push_back(done);
      res.checked_p.push_back(res.score.p);
      p.scored = true;
      p.score = res.score;
      p.seconds = seconds_since(t0);
      if (progress) progress(p);
    }
  }
  res.seconds = seconds_since(t0);
  return res;
}

int linf_distance(const Image& a, const Image& b) {
  CUVIZ_CHECK(a.width == b.width && a.height == b.height && a.pixels.size() == b.pixels.size(),
              "L-inf distance of images of different sizes");
  int d = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) d = std::max(d, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return d;
}

}  // namespace cuviz
