// L-BFGS with a fixed step or a strong-Wolfe line search (optim/lbfgs.h). The algorithm follows
// Nocedal & Wright; the line search is N&W's algorithms 3.5 (bracketing) and 3.6 (zoom) with the
// safeguarded cubic interpolation of minFunc / torch.optim.LBFGS, written out here.
#include "optim/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"

namespace cuviz {

const char* line_search_name(LineSearch s) { return s == LineSearch::fixed ? "fixed" : "strong_wolfe"; }

const char* lbfgs_stop_name(LbfgsStop s) {
  switch (s) {
    case LbfgsStop::running: return "running";
    case LbfgsStop::gradient_tolerance: return "gradient tolerance";
    case LbfgsStop::step_tolerance: return "step tolerance";
    case LbfgsStop::function_tolerance: return "function-value tolerance";
    case LbfgsStop::no_descent: return "no descent direction";
    case LbfgsStop::line_search_failed: return "line search failed";
  }
  return "?";
}

// ---- vector operations -------------------------------------------------------------------------

namespace {

// Eight independent double accumulators: a fixed summation order (deterministic) that the
// compiler can keep in registers.
template <class Term>
double reduce_cpu(int64_t n, Term term) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += term(i + k);
  for (; i < n; ++i) acc[0] += term(i);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace

double vec_dot(const float* a, const float* b, int64_t n, Device device, void* scratch) {
  if (device == Device::cuda) return vec_reduce_cuda(0, a, b, n, scratch);
  return reduce_cpu(n, [&](int64_t i) { return double(a[i]) * double(b[i]); });
}

double vec_sum_abs(const float* a, int64_t n, Device device, void* scratch) {
  if (device == Device::cuda) return vec_reduce_cuda(1, a, nullptr, n, scratch);
  return reduce_cpu(n, [&](int64_t i) { return std::fabs(double(a[i])); });
}

double vec_max_abs(const float* a, int64_t n, Device device, void* scratch) {
  if (device == Device::cuda) return vec_reduce_cuda(2, a, nullptr, n, scratch);
  float m = 0.f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i]));
  return m;
}

void vec_lincomb(const float* x, float a, const float* y, float* z, int64_t n, Device device) {
  if (device == Device::cuda) return vec_lincomb_cuda(x, a, y, z, n);
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + a * y[i];
}

void vec_axpy(float a, const float* x, float* y, int64_t n, Device device) { vec_lincomb(y, a, x, y, n, device); }

void vec_scale(float a, const float* x, float* y, int64_t n, Device device) {
  if (device == Device::cuda) return vec_scale_cuda(a, x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = a * x[i];
}

void vec_sub(const float* a, const float* b, float* z, int64_t n, Device device) {
  if (device == Device::cuda) return vec_sub_cuda(a, b, z, n);
  for (int64_t i = 0; i < n; ++i) z[i] = a[i] - b[i];
}

// ---- the optimizer -----------------------------------------------------------------------------

Lbfgs::Lbfgs(const Tensor& x, const Tensor& g, LbfgsConfig config)
    : x_(x), g_(g), c_(config), n_(x.numel()), device_(x.device()) {
  CUVIZ_CHECK(x.numel() == g.numel() && x.numel() > 0, "lbfgs: parameters (", x.numel(), ") and gradient (",
              g.numel(), ") must be the same non-empty size");
  CUVIZ_CHECK(x.device() == g.device(), "lbfgs: parameters and gradient on different devices");
  CUVIZ_CHECK(c_.history >= 1 && c_.history <= 10000, "lbfgs: history ", c_.history, " out of range (1..10000)");
  CUVIZ_CHECK(c_.lr > 0 && std::isfinite(c_.lr), "lbfgs: step ", c_.lr, " must be > 0");
  CUVIZ_CHECK(c_.c1 > 0 && c_.c1 < c_.c2 && c_.c2 < 1, "lbfgs: Wolfe constants need 0 < c1 < c2 < 1, got c1 ", c_.c1,
              ", c2 ", c_.c2);
  CUVIZ_CHECK(c_.max_line_search >= 1, "lbfgs: max_line_search ", c_.max_line_search, " must be >= 1");
  CUVIZ_CHECK(n_ <= std::numeric_limits<int>::max(), "lbfgs: ", n_, " parameters is too many for one buffer");
  CUVIZ_CHECK(x.contiguous() && g.contiguous(), "lbfgs: parameters and gradient must be dense buffers");
  const Shape flat{1, 1, 1, int(n_)};
  x_ = Tensor(x.data(), flat, device_);  // flat views: every copy below is between equal shapes
  g_ = Tensor(g.data(), flat, device_);
  d_ = OwnedTensor(flat, device_);
  g0_ = OwnedTensor(flat, device_);
  s_hist_ = OwnedTensor(Shape{c_.history + 1, 1, 1, int(n_)}, device_);
  y_hist_ = OwnedTensor(Shape{c_.history + 1, 1, 1, int(n_)}, device_);
  if (c_.line_search == LineSearch::strong_wolfe) {
    x0_ = OwnedTensor(flat, device_);
    gpool_ = OwnedTensor(Shape{3, 1, 1, int(n_)}, device_);
  }
  if (device_ == Device::cuda) scratch_ = Buffer(kLbfgsScratchBytes, device_);
  rho_.assign(size_t(c_.history + 1), 0.0);
  alpha_.assign(size_t(c_.history + 1), 0.0);
  reset();
}

Lbfgs::~Lbfgs() = default;

void Lbfgs::reset() {
  order_.clear();
  spare_ = 0;
  count_ = 0;
  f_ = 0, t_ = 0, gamma_ = 1;
  iter_ = 0;
  evals_ = 0;
  evaluated_ = false;
  last_eval_at_x_ = true;
  stop_ = LbfgsStop::running;
  last_ = LineSearchInfo{};
}

// Steps 1 and 2 of an iteration (optim/lbfgs.h): the new pair from the last step, then
// d = -H g by the two-loop recursion.
void Lbfgs::direction() {
  const int64_t n = n_;
  void* sc = scratch_.data();
  if (iter_ == 0) {
    vec_scale(-1.f, g_.data(), d_.data(), n, device_);
    gamma_ = 1;
    return;
  }
  // s = t d (d still holds the last direction), y = g_k - g_{k-1}.
  float* s = row(s_hist_, spare_);
  float* y = row(y_hist_, spare_);
  vec_scale(float(t_), d_.data(), s, n, device_);
  vec_sub(g_.data(), g0_.data(), y, n, device_);
  const double ys = vec_dot(y, s, n, device_, sc);
  if (ys > 1e-10) {  // the curvature condition: keep the pair only when H stays positive definite
    rho_[size_t(spare_)] = 1.0 / ys;
    order_.push_back(spare_);
    if (int(order_.size()) > c_.history) {
      spare_ = order_.front();
      order_.erase(order_.begin());
    } else {
      spare_ = int(order_.size());  // rows 0..history: the first unused one
    }
    count_ = int(order_.size());
    gamma_ = ys / vec_dot(y, y, n, device_, sc);
  }
  // q = -g, newest to oldest: alpha_i = rho_i s_i.q, q -= alpha_i y_i.
  float* q = d_.data();
  vec_scale(-1.f, g_.data(), q, n, device_);
  for (int k = count_ - 1; k >= 0; --k) {
    const int r = order_[size_t(k)];
    alpha_[size_t(r)] = rho_[size_t(r)] * vec_dot(row(s_hist_, r), q, n, device_, sc);
    vec_axpy(float(-alpha_[size_t(r)]), row(y_hist_, r), q, n, device_);
  }
  // d = gamma q, oldest to newest: beta = rho_i y_i.d, d += (alpha_i - beta) s_i.
  vec_scale(float(gamma_), q, q, n, device_);
  for (int k = 0; k < count_; ++k) {
    const int r = order_[size_t(k)];
    const double beta = rho_[size_t(r)] * vec_dot(row(y_hist_, r), q, n, device_, sc);
    vec_axpy(float(alpha_[size_t(r)] - beta), row(s_hist_, r), q, n, device_);
  }
}

namespace {

// The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped to
// [lo, hi] (N&W eq. 3.59); the midpoint when the cubic has no minimiser (or the data are not finite).
double cubic_min(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi) {
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2sq = d1 * d1 - g1 * g2;
  if (!(d2sq >= 0) || !std::isfinite(d2sq)) return (lo + hi) / 2;
  const double d2 = std::sqrt(d2sq);
  const double m = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                            : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  if (!std::isfinite(m)) return (lo + hi) / 2;
  return std::min(std::max(m, lo), hi);
}

}  // namespace

// Strong-Wolfe line search from x0_ along d_ (f0 = f_, g0 = g0_, slope gtd < 0), first trial t.
// Leaves x = x0 + t* d, g = grad f there, t_ = t*, and returns f(x). The gradients of the
// bracket's ends are kept in three pool rows (slot -1: g0).
double Lbfgs::strong_wolfe(const Evaluate& f, double t, double gtd) {
  const int64_t n = n_;
  void* sc = scratch_.data();
  const double f0 = f_;
  const double d_norm = vec_max_abs(d_.data(), n, device_, sc);
  auto grad_row = [&](int slot) { return slot < 0 ? g0_.data() : row(gpool_, slot); };
  // f and its slope at x0 + t d; the gradient kept in a free pool row (not one of `used`).
  int evals = 0;
  double t_last = 0;  // the step of the last evaluation
  auto eval = [&](double step, double& fv, double& slope, std::initializer_list<int> used) {
    t_last = step;
    vec_lincomb(x0_.data(), float(step), d_.data(), x_.data(), n, device_);
    fv = f();
    ++evals;
    slope = vec_dot(g_.data(), d_.data(), n, device_, sc);
    int slot = 0;
    while (std::find(used.begin(), used.end(), slot) != used.end()) ++slot;
    copy(g_, Tensor(grad_row(slot), g_.shape(), device_));
    return slot;
  };
  auto too_high = [&](double step, double fv) { return !std::isfinite(fv) || fv > f0 + c_.c1 * step * gtd; };

  // Bracketing (N&W algorithm 3.5).
  double t_prev = 0, f_prev = f0, gtd_prev = gtd;
  int g_prev = -1;
  double f_new = 0, gtd_new = 0;
  int g_new = eval(t, f_new, gtd_new, {g_prev});
  double bt[2] = {0, 0}, bf[2] = {0, 0}, bgtd[2] = {0, 0};
  int bg[2] = {-1, -1};
  bool done = false, bracketed = false;
  int ls = 0;
  while (ls < c_.max_line_search) {
    if (too_high(t, f_new) || (ls > 1 && f_new >= f_prev)) {
      bt[0] = t_prev, bf[0] = f_prev, bg[0] = g_prev, bgtd[0] = gtd_prev;
      bt[1] = t, bf[1] = f_new, bg[1] = g_new, bgtd[1] = gtd_new;
      bracketed = true;
      break;
    }
    if (std::fabs(gtd_new) <= -c_.c2 * gtd) {  // both conditions hold at t
      bt[0] = bt[1] = t, bf[0] = bf[1] = f_new, bg[0] = bg[1] = g_new, bgtd[0] = bgtd[1] = gtd_new;
      done = true;
      break;
    }
    if (gtd_new >= 0) {  // past a minimiser: it lies in [t_prev, t]
      bt[0] = t_prev, bf[0] = f_prev, bg[0] = g_prev, bgtd[0] = gtd_prev;
      bt[1] = t, bf[1] = f_new, bg[1] = g_new, bgtd[1] = gtd_new;
      bracketed = true;
      break;
    }
    // Extrapolate: the cubic's minimiser within [t + 0.01 (t - t_prev), 10 t].
    const double next = cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, t + 0.01 * (t - t_prev), t * 10);
    t_prev = t, f_prev = f_new, g_prev = g_new, gtd_prev = gtd_new;
    t = next;
    g_new = eval(t, f_new, gtd_new, {g_prev});
    ++ls;
  }
  if (!done && !bracketed) {  // ran out of evaluations while extrapolating: bracket [0, t]
    bt[0] = 0, bf[0] = f0, bg[0] = -1, bgtd[0] = gtd;
    bt[1] = t, bf[1] = f_new, bg[1] = g_new, bgtd[1] = gtd_new;
  }

  // Zoom (N&W algorithm 3.6): shrink [lo, hi] keeping f(lo) the lowest sufficient-decrease value
  // and the slope at lo pointing into the bracket, until the curvature condition holds at lo.
  int lo = bf[0] <= bf[1] ? 0 : 1, hi = 1 - lo;
  bool insufficient = false;
  while (!done && ls < c_.max_line_search) {
    if (std::fabs(bt[1] - bt[0]) * d_norm < c_.tol_change) break;  // the bracket is a point
    const double tmin = std::min(bt[0], bt[1]), tmax = std::max(bt[0], bt[1]);
    t = cubic_min(bt[0], bf[0], bgtd[0], bt[1], bf[1], bgtd[1], tmin, tmax);
    // Safeguard (minFunc): a trial within 10% of an end is moved to 10% in, unless the last
    // trial was not near an end.
    const double eps = 0.1 * (tmax - tmin);
    if (std::min(tmax - t, t - tmin) < eps) {
      if (insufficient || t >= tmax || t <= tmin) {
        t = std::fabs(t - tmax) < std::fabs(t - tmin) ? tmax - eps : tmin + eps;
        insufficient = false;
      } else {
        insufficient = true;
      }
    } else {
      insufficient = false;
    }
    g_new = eval(t, f_new, gtd_new, {bg[0], bg[1]});
    ++ls;
    if (too_high(t, f_new) || f_new >= bf[lo]) {
      bt[hi] = t, bf[hi] = f_new, bg[hi] = g_new, bgtd[hi] = gtd_new;
      lo = bf[0] <= bf[1] ? 0 : 1, hi = 1 - lo;
    } else {
      if (std::fabs(gtd_new) <= -c_.c2 * gtd)
        done = true;
      else if (gtd_new * (bt[hi] - bt[lo]) >= 0)
        bt[hi] = bt[lo], bf[hi] = bf[lo], bg[hi] = bg[lo], bgtd[hi] = bgtd[lo];
      bt[lo] = t, bf[lo] = f_new, bg[lo] = g_new, bgtd[lo] = gtd_new;
    }
  }
  // The accepted point: lo (its x and gradient, re-formed from x0 and the kept row).
  t_ = bt[lo];
  last_eval_at_x_ = t_ == t_last;
  vec_lincomb(x0_.data(), float(t_), d_.data(), x_.data(), n, device_);
  copy(Tensor(grad_row(bg[lo]), g_.shape(), device_), g_);
  last_ = LineSearchInfo{t_, f0, gtd, bf[lo], bgtd[lo], evals, done};
  evals_ += evals;
  return bf[lo];
}

LbfgsStop Lbfgs::iterate(const Evaluate& f) {
  if (stop_ != LbfgsStop::running) return stop_;
  const int64_t n = n_;
  void* sc = scratch_.data();
  if (!evaluated_) {
    f_ = f();
    ++evals_;
    evaluated_ = true;
    CUVIZ_CHECK(std::isfinite(f_), "lbfgs: the function is ", f_, " at the start (not finite)");
    if (c_.tol_grad >= 0 && vec_max_abs(g_.data(), n, device_, sc) <= c_.tol_grad)
      return stop_ = LbfgsStop::gradient_tolerance;
  }
  direction();
  copy(g_, g0_);  // g_k, for the next pair's y
  const double f_prev = f_;
  // The first step is scaled so that it moves by at most lr in the L1 sense (torch7 and torch).
  double t = c_.lr;
  if (iter_ == 0) t = std::min(1.0, 1.0 / vec_sum_abs(g_.data(), n, device_, sc)) * c_.lr;
  const double gtd = vec_dot(g_.data(), d_.data(), n, device_, sc);
  if (gtd > -c_.tol_change) return stop_ = LbfgsStop::no_descent;
  ++iter_;
  if (c_.line_search == LineSearch::fixed) {
    t_ = t;
    vec_axpy(float(t), d_.data(), x_.data(), n, device_);
    f_ = f();
    ++evals_;
    last_ = LineSearchInfo{t, f_prev, gtd, f_, vec_dot(g_.data(), d_.data(), n, device_, sc), 1, false};
  } else {
    copy(x_, x0_);
    f_ = strong_wolfe(f, t, gtd);
    if (!(f_ < f_prev) && t_ == 0) return stop_ = LbfgsStop::line_search_failed;
  }
  if (c_.tol_grad >= 0 && vec_max_abs(g_.data(), n, device_, sc) <= c_.tol_grad)
    return stop_ = LbfgsStop::gradient_tolerance;
  if (c_.tol_change >= 0 && vec_max_abs(d_.data(), n, device_, sc) * std::fabs(t_) <= c_.tol_change)
    return stop_ = LbfgsStop::step_tolerance;
  if (c_.tol_change >= 0 && std::fabs(f_ - f_prev) < c_.tol_change) return stop_ = LbfgsStop::function_tolerance;
  return stop_;
}

LbfgsStop Lbfgs::minimize(const Evaluate& f, int max_iter) {
  for (int k = 0; k < max_iter && stop_ == LbfgsStop::running; ++k) iterate(f);
  return stop_;
}

}  // namespace cuviz
