// Class models (Simonyan, Vedaldi, Zisserman 2013) and fooling images (Nguyen, Yosinski, Clune
// 2015; Szegedy et al. 2014 from a photo) as configurations of the one render loop
// (docs/visualization.md, "Class models" and "Fooling images"):
//
//   classviz simonyan: param input, source zeros (the dataset mean), objective class_logit(k),
//                      no transforms, SGD on -S_k(x) + lambda ||x||^2 (l2_decay = 2 lambda), clip
//                      to the valid pixel range so that the PNG is the image optimised.
//   classviz deepdraw: Oygard's per-octave schedule (deepdraw_octaves below): param input from
//                      grey noise, class_logit(k), per octave SGD on g / mean|g| with a step-size
//                      schedule, clip, a Gaussian blur with a sigma schedule, random crops of the
//                      growing image (render_schedule, viz/octaves.h).
//   fool:              param input, source noise or a photo, objective class_logit(k), no prior,
//                      SGD on the gradient divided by its mean |g| (google/deepdream's step), clip;
//                      every `check_every` steps the image is quantised to 8 bits, preprocessed as
//                      `cuviz classify` does and scored; it stops at the target softmax confidence.
//
// Neither is a loop of its own: classviz is render(), and fool drives Renderer::step() with a stop
// test, as render_loop drives it without one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/labels.h"
#include "nn/network.h"
#include "viz/octaves.h"
#include "viz/render.h"
#include "viz/settings.h"

namespace cuviz {

// Why the defaults are what they are (docs/visualization.md, "Class models"): Simonyan 2013 gives
// the objective S_c(I) - lambda ||I||^2 on the mean-subtracted image from a zero image and plain
// gradient ascent, but no lambda, step or iteration count. These were chosen on BVLC GoogLeNet
// (Caffe input: x255, BGR, minus the mean, so x spans about [-123, 152]): SGD with momentum 0.9 at
// lr 400 oscillates; lr 100 (lambda 0.0005) gives a goldfish class model that `cuviz classify` reads as goldfish
// with p = 1.0000 after 60 steps. The acceptance classes (goldfish, flamingo, Egyptian cat, bell
// pepper) at the defaults are recorded in docs/visualization.md, "Class models".
namespace class_model_defaults {
inline constexpr int steps = 100;
inline constexpr double lambda = 0.0002;  // of ||x||^2 in the network input's units
inline constexpr double lr = 100;  // SGD on the raw gradient (logit gradients are small per input element)
inline constexpr double momentum = 0.9;
inline constexpr int fool_max_steps = 1000;
inline constexpr double fool_lr = 1.0;  // per step, in units of the gradient's mean |g| (network-input units)
}  // namespace class_model_defaults

// deepdraw (Audun Oygard, github.com/auduno/deepdraw, deepdraw.ipynb, cell "Generating the class
// visualizations"; blog post "Visualizing GoogLeNet classes", 2015), the octave table as the
// notebook ships it for bvlc_googlenet:
//     octaves = [{'layer':'loss3/classifier', 'iter_n':190, 'start_sigma':2.5, 'end_sigma':0.78,
//                 'start_step_size':11., 'end_step_size':11.},
//                {'layer':'loss3/classifier', 'scale':1.2, 'iter_n':450, 'start_sigma':0.78*1.2,
//                 'end_sigma':0.40, 'start_step_size':6., 'end_step_size':3.}]
// from gen_image = np.random.normal(background_color, 8, (224, 224, 3)) (RGB bytes; cuviz takes
// background_color = (200, 200, 200), as the notebook's copies in forks and apps built on it set
// it; deepdraw's own path and mask notebooks use 250). Per step (make_step): a 224 x 224 crop of the image at
// normal(centre, 0.3 x slack) per axis, the gradient of the one-hot logit, x += step / mean|g| * g,
// clip to [-mean, 255 - mean], blur with sigma; with i = 0..iter_n - 1,
//     sigma = start_sigma + (end_sigma - start_sigma) * i / iter_n   (likewise the step size),
// so the end values are approached, not reached. Between octaves the whole image is zoomed by
// `scale` (nd.zoom: 224 -> 269 px). An earlier version of the table, which many copies of the
// notebook reproduce, continues at loss2/classifier and loss1/classifier, GoogLeNet's auxiliary
// heads, which the deploy network
// (bvlc_googlenet/deploy.prototxt) does not have; the shipped table needs the class logit only.
// Where cuviz differs (docs/visualization.md, "Class models: deepdraw"): the zoom is bilinear
// (nd.zoom: cubic spline), the blur is cut at 3 sigma (scipy: 4), and the random draws are
// cuviz's counter-based ones. The blur, as deepdraw's, acts on the crop just updated.
struct DeepdrawOctave {
  double scale;  // zoom of the whole image before the octave (1: none)
  int iters;
  double sigma_start, sigma_end;
  double step_start, step_end;  // deepdraw's step_size, in network-input units (Caffe: bytes)
};
inline const std::vector<DeepdrawOctave>& deepdraw_octaves() {
  static const std::vector<DeepdrawOctave> table = {
      {1.0, 190, 2.5, 0.78, 11.0, 11.0},
      {1.2, 450, 0.78 * 1.2, 0.40, 6.0, 3.0},
  };
  return table;
}
inline constexpr double kDeepdrawBackground = 200.0 / 255.0;  // grey start, in [0, 1] image units
inline constexpr double kDeepdrawNoise = 8.0 / 255.0;         // its normal noise

// `cuviz classviz`: a class model.
struct ClassModelSettings {
  std::string class_name;  // an index or a label name (resolve_class)
  std::string method = "simonyan";
  int size = settings_defaults::size;
  int steps = class_model_defaults::steps;
  double lambda = class_model_defaults::lambda;
  double lr = class_model_defaults::lr;
  double momentum = class_model_defaults::momentum;
  bool clip = true;
  uint64_t seed = settings_defaults::seed;

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "class", .flag = "--class", .help = "Class: an index (1) or a label name (\"flamingo\")",
            .value = s.class_name, .required = true});
    v(Field{.key = "method", .flag = "--method",
            .help = "simonyan: L2-regularised logit ascent from a zero image; deepdraw: Oygard's octaves with blur "
                    "and random crops (its own steps and step sizes: --steps, --lambda, --lr, --momentum are simonyan's)",
            .value = s.method, .check = OneOf{{"simonyan", "deepdraw"}}});
    v(Field{.key = "size", .flag = "--size",
            .help = "Image height and width in pixels (deepdraw: of the first octave; the image grows by its scales)",
            .value = s.size, .check = Range{8, 4096}});
    v(Field{.key = "steps", .flag = "--steps", .help = "Gradient ascent steps", .value = s.steps,
            .check = Range{1, 1000000}});
    v(Field{.key = "lambda", .flag = "--lambda", .help = "Weight of the L2 prior lambda ||x||^2 (network-input units)",
            .value = s.lambda, .check = Range{0, 1e6}});
    v(Field{.key = "lr", .flag = "--lr", .help = "SGD learning rate on the raw gradient", .value = s.lr,
            .check = Positive{}});
    v(Field{.key = "momentum", .flag = "--momentum", .help = "SGD momentum", .value = s.momentum,
            .check = Range{0, 0.999}});
    v(Field{.key = "clip", .flag = "--clip", .help = "Clamp to the valid pixel range after each step (the PNG is then the image optimised)",
            .value = s.clip});
    v(Field{.key = "seed", .flag = "--seed",
            .help = "Seed (simonyan draws nothing; deepdraw: its start noise and random crops)", .value = s.seed});
  }
};

// `cuviz fool`: a fooling image.
struct FoolSettings {
  std::string class_name;
  std::string from = "noise";  // noise or a photo
  double target_confidence = 0.99;
  int size = settings_defaults::size;
  int max_steps = class_model_defaults::fool_max_steps;
  int check_every = 10;
  double lr = class_model_defaults::fool_lr;
  uint64_t seed = settings_defaults::seed;

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "class", .flag = "--class", .help = "Class: an index (1) or a label name (\"goldfish\")",
            .value = s.class_name, .required = true});
    v(Field{.key = "from", .flag = "--from",
            .help = "Start: noise (pixels uniform in 0.5 +- 0.1 from the seed) or a photo (PNG or JPEG, centre-cropped "
                    "and resized to --size)",
            .value = s.from, .check = Judged{fool_source_problem, "{noise,PHOTO}"}});
    v(Field{.key = "target_confidence", .flag = "--target-confidence",
            .help = "Stop when the written 8-bit PNG gets this softmax probability for the class", .value = s.target_confidence,
            .check = Range{0, 1}});
    v(Field{.key = "size", .flag = "--size", .help = "Image height and width in pixels", .value = s.size,
            .check = Range{8, 4096}});
    v(Field{.key = "max_steps", .flag = "--max-steps", .help = "Give up (exit 1, no output) after this many steps",
            .value = s.max_steps, .check = Range{1, 1000000}});
    v(Field{.key = "check_every", .flag = "--check-every", .help = "Score the quantised image every K steps",
            .value = s.check_every, .check = Range{1, 1000000}});
    v(Field{.key = "lr", .flag = "--lr", .help = "Step size in units of the gradient's mean |g| (network-input units)",
            .value = s.lr, .check = Positive{}});
    v(Field{.key = "seed", .flag = "--seed", .help = "Seed of the noise start", .value = s.seed});
  }

  static std::string fool_source_problem(const std::string& text);
};

// The class `text` names among `num_classes`: a decimal index in [0, num_classes), or a label
// name matched case-insensitively against each label's comma-separated names (exact first; a name
// two classes share is an error naming both). Throws one line for an unknown name, listing the near
// matches (edit distance, then names containing the text).
int resolve_class(const std::string& text, const std::vector<Label>& labels, int num_classes);

// What `cuviz classify` says of an 8-bit image for class k: the image centre-cropped, resized to
// the model's input size and normalised (loaders/preprocess.h), run to the last layer, softmax
// (unless the last layer is one). One plan, made once.
struct ClassScore {
  int top = -1;          // the most probable class
  double top_p = 0;      // its probability
  double logit = 0;      // S_k: the blob feeding the softmax
  double p = 0;          // softmax probability of k
};
class ImageScorer {
 public:
  explicit ImageScorer(const Network& net);
  ClassScore score(const Image& image, int k);
  int num_classes() const { return classes_; }

 private:
  const Network& net_;
  Plan plan_;
  std::string logit_blob_, last_blob_;
  bool last_is_softmax_ = false;
  int classes_ = 0;
};

// The render options of a class model (param input, zeros, class_logit, SGD with L2 decay).
RenderOptions class_model_options(const ClassModelSettings& s, Device device);

// deepdraw as the loop's octave schedule for class k: octave sizes from s.size grown by each
// octave's scale (scipy's zoom rounding), crops of `crop` px (the network's input size), the blur and
// step-size schedules adapted to the loop's linear_schedule (which reaches its end value at the
// last step) and the SGD learning rate scaled for the crop (see class_model.cpp).
std::vector<ScheduledOctave> deepdraw_schedule(int crop, int k, const ClassModelSettings& s);
// deepdraw's start: grey kDeepdrawBackground plus normal noise kDeepdrawNoise per pixel (clamped to
// [0, 1] images: the first clip would do it anyway), as a network input {1, 3, size, size}.
OwnedTensor deepdraw_start(const ModelMeta& meta, int size, uint64_t seed);

// A class model by s.method: its [0, 1] image (simonyan: size x size; deepdraw: the last octave's
// size) and what the loop recorded.
struct ClassModelResult {
  OwnedTensor images;  // CPU {1, 3, H, W}
  double logit = 0;    // the class logit of the float image (deepdraw: the last octave's centre crop)
  std::vector<int> history_steps;  // steps counted over all octaves
  std::vector<std::vector<double>> history;
  std::vector<int> octave_sizes;   // deepdraw: per octave
  std::vector<double> octave_logit_start, octave_logit_end;
  double seconds = 0;
};
struct ClassModelProgress {
  int octave = 0, octaves = 1;
  int step = 0, steps = 0;  // within the octave
  double logit = 0;
  double seconds = 0;       // within the octave
};
ClassModelResult class_model(const Network& net, int k, const ClassModelSettings& s, bool cuda_graph = true,
                             const std::function<void(const ClassModelProgress&)>& progress = {});

struct FoolProgress {
  int step = 0, max_steps = 0;
  double objective = 0;  // the logit during the last step
  bool scored = false;   // this step scored the quantised image
  ClassScore score;
  double seconds = 0;
};
struct FoolResult {
  OwnedTensor images;    // CPU {1, 3, S, S} in [0, 1]
  Image png;             // the 8-bit image that was scored last
  ClassScore score;      // of png
  bool reached = false;
  int steps = 0;
  std::vector<int> checked_steps;
  std::vector<double> checked_p;
  double seconds = 0;
};
// The render options of a fooling image.
RenderOptions fool_options(const FoolSettings& s, Device device);
// Ascends class k's logit until the quantised image reaches s.target_confidence (checked every
// s.check_every steps and at the last) or s.max_steps.
FoolResult fool(const Network& net, int k, const FoolSettings& s,
                const std::function<void(const FoolProgress&)>& progress = {});

// max |a - b| over the bytes of two images of one size.
int linf_distance(const Image& a, const Image& b);

}  // namespace cuviz
