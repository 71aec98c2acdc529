// Limited-memory BFGS (Nocedal & Wright, "Numerical Optimization", 2nd ed., algorithm 7.4/7.5)
// over one flat float parameter buffer x with its gradient buffer g, on the device that holds
// them (the CPU, or a CUDA device: every vector operation below runs there, and only scalars —
// dot products, norms — come back to the host, never an element).
//
// One iteration k, from x_k with f_k = f(x_k) and g_k = grad f(x_k):
//   1. history: s = x_k - x_{k-1} (= t d of the last step), y = g_k - g_{k-1}; the pair is kept
//      (the oldest dropped beyond `history`) when y.s > 1e-10 (curvature condition), and the
//      initial inverse Hessian is H0 = gamma I with gamma = y.s / y.y (N&W eq. 7.20).
//   2. direction d = -H_k g_k by the two-loop recursion (N&W algorithm 7.4):
//        q = -g;  for i = newest..oldest: alpha_i = rho_i s_i.q;  q -= alpha_i y_i
//        d = gamma q;  for i = oldest..newest: beta = rho_i y_i.d;  d += (alpha_i - beta) s_i
//      with rho_i = 1 / (y_i.s_i). (The first iteration: d = -g.)
//   3. a step length t along d:
//      - fixed step (neural-style's mode, torch7 optim.lbfgs without lineSearch): t = lr, except
//        t = min(1, 1/||g||_1) lr on the first iteration; one evaluation per iteration.
//      - strong Wolfe (N&W algorithms 3.5 bracketing + 3.6 zoom, with cubic interpolation as in
//        minFunc and torch.optim.LBFGS): t from 1 (min(1, 1/||g||_1) first) such that
//          f(x + t d) <= f + c1 t g.d            (sufficient decrease)
//          |grad f(x + t d).d| <= c2 |g.d|       (curvature), c1 = 1e-4, c2 = 0.9.
//   4. x_{k+1} = x_k + t d, and the stopping tests below.
// Stops (LbfgsStop): the gradient's max |g_i| <= tol_grad; the step's max |t d_i| <= tol_change;
// |f_{k+1} - f_k| < tol_change; the directional derivative g.d > -tol_change (no descent left);
// the line search failing to find any decrease; or the iteration count the caller runs (max_iter).
// These are torch.optim.LBFGS's tests and defaults (tolerance_grad 1e-7, tolerance_change 1e-9).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cuviz {

enum class LineSearch { fixed, strong_wolfe };
// "fixed", "strong_wolfe".
const char* line_search_name(LineSearch s);

struct LbfgsConfig {
  int history = 100;                 // correction pairs kept (neural-style's -lbfgs_num_correction default)
  LineSearch line_search = LineSearch::fixed;  // neural-style's default (torch7 optim.lbfgs, no lineSearch)
  double lr = 1.0;                   // the fixed step, and the strong-Wolfe search's first trial step
  double tol_grad = 1e-7;            // stop when max |g_i| <= tol_grad (< 0: never)
  double tol_change = 1e-9;          // stop when max |t d_i| or |f_{k+1} - f_k| <= tol_change (< 0: never)
  double c1 = 1e-4, c2 = 0.9;        // the strong Wolfe constants (N&W's recommendation for quasi-Newton)
  int max_line_search = 25;          // evaluations per line search (torch's max_ls)
};

enum class LbfgsStop {
  running,             // not stopped: the caller may iterate again
  gradient_tolerance,  // max |g_i| <= tol_grad (at the start, or after a step)
  step_tolerance,      // max |t d_i| <= tol_change
  function_tolerance,  // |f_{k+1} - f_k| < tol_change
  no_descent,          // g.d > -tol_change: the direction is not a descent direction any more
  line_search_failed,  // the line search found no point with f below f_k
};
// "running", "gradient tolerance", ...: why the optimizer stopped, in words.
const char* lbfgs_stop_name(LbfgsStop s);

// The last line search (or fixed step), for tests and logs: f and g.d at t = 0 and at the step
// taken; `wolfe` is what the search CLAIMS (it stopped because both strong Wolfe conditions
// held), which tests check against the values.
struct LineSearchInfo {
  double t = 0;
  double f0 = 0, gtd0 = 0;  // at x_k: f and g_k.d
  double f = 0, gtd = 0;    // at x_k + t d
  int evaluations = 0;
  bool wolfe = false;
};

class Lbfgs {
 public:
  // Evaluates f at the current contents of x (the buffer given to the constructor), writes
  // grad f(x) into g and returns f(x). The optimizer writes x before every call.
  using Evaluate = std::function<double()>;

  // x and g: dense buffers of the same size on one device; the history lives on that device
  // (2 x (history + 1) x size floats, allocated here: one spare pair is where the next one is
  // formed, so a pair failing the curvature test never displaces the oldest).
  Lbfgs(const Tensor& x, const Tensor& g, LbfgsConfig config = {});
  ~Lbfgs();

  // One iteration (evaluating f at x first if nothing has been evaluated yet). Afterwards x holds
  // x_{k+1} and g its gradient; returns stop(): running, or why no further iteration can help.
  // Iterating after a stop returns the same stop without evaluating.
  LbfgsStop iterate(const Evaluate& f);
  // Runs until a stop or `max_iter` iterations (then `running`).
  LbfgsStop minimize(const Evaluate& f, int max_iter);

  double value() const { return f_; }          // f at x (after the first evaluation)
  int iterations() const { return iter_; }
  int64_t evaluations() const { return evals_; }
  LbfgsStop stop() const { return stop_; }
  int history_size() const { return count_; }  // pairs kept now
  const LineSearchInfo& last_search() const { return last_; }
  // False when the line search's last evaluation was at another point than the x it accepted
  // (the caller's own state from that evaluation, e.g. a network's activations, is then stale).
  bool last_evaluation_at_x() const { return last_eval_at_x_; }
  const LbfgsConfig& config() const { return c_; }
  // Forgets the history and the evaluation (x is left as it is).
  void reset();

 private:
  void direction();
  double strong_wolfe(const Evaluate& f, double t, double gtd);
  float* row(const OwnedTensor& t, int r) const { return t.data() + int64_t(r) * n_; }

  Tensor x_, g_;
  LbfgsConfig c_;
  int64_t n_ = 0;
  Device device_ = Device::cpu;
  OwnedTensor d_, x0_, g0_, s_hist_, y_hist_, gpool_;  // gpool: 3 gradient copies for the line search
  Buffer scratch_;                                       // CUDA reductions' partial sums
  std::vector<double> rho_, alpha_;  // per row of the history
  std::vector<int> order_;           // rows of the kept pairs, oldest first
  int spare_ = 0;                    // the row the next pair is formed in
  int count_ = 0;                    // == order_.size()
  double f_ = 0, t_ = 0, gamma_ = 1;
  int iter_ = 0;
  int64_t evals_ = 0;
  bool evaluated_ = false;
  bool last_eval_at_x_ = true;
  LbfgsStop stop_ = LbfgsStop::running;
  LineSearchInfo last_;
};

// ---- the vector operations, on the buffers' device (n elements; reductions in double) ----------
double vec_dot(const float* a, const float* b, int64_t n, Device device, void* scratch = nullptr);
double vec_sum_abs(const float* a, int64_t n, Device device, void* scratch = nullptr);
double vec_max_abs(const float* a, int64_t n, Device device, void* scratch = nullptr);
void vec_axpy(float a, const float* x, float* y, int64_t n, Device device);             // y += a x
void vec_lincomb(const float* x, float a, const float* y, float* z, int64_t n, Device device);  // z = x + a y
void vec_scale(float a, const float* x, float* y, int64_t n, Device device);            // y = a x
void vec_sub(const float* a, const float* b, float* z, int64_t n, Device device);       // z = a - b

// CUDA entry points (optim/lbfgs.cu, or throwing stand-ins in lbfgs_disabled.cpp). kind: 0 dot,
// 1 sum |a|, 2 max |a|. scratch: at least kLbfgsScratchBytes on the device.
constexpr size_t kLbfgsScratchBytes = 1025 * sizeof(double);
double vec_reduce_cuda(int kind, const float* a, const float* b, int64_t n, void* scratch);
void vec_lincomb_cuda(const float* x, float a, const float* y, float* z, int64_t n);
void vec_scale_cuda(float a, const float* x, float* y, int64_t n);
void vec_sub_cuda(const float* a, const float* b, float* z, int64_t n);

}  // namespace cuviz
