// How cuviz's OpenMP threads wait at a barrier when the user has not said (docs/reliability.md,
// "Robust under load"). libgomp's default spins for up to 300,000 iterations (about a
// millisecond) before it sleeps; a render step has ~200 barriers, so on a machine whose cores are
// busy a thread that waits for a descheduled partner burns the very core that partner needs
// (measured: render at 0.25x the PyTorch baseline, 2.7x faster with OMP_WAIT_POLICY=passive).
//
// libgomp reads its environment in a constructor that runs before main() (a setenv() in main is
// too late: the runtime never sees it), so the policy is chosen by re-executing the binary once
// with OMP_WAIT_POLICY=passive in its environment. Nothing is changed when the user set
// OMP_WAIT_POLICY or GOMP_SPINCOUNT, or runs one thread (OMP_NUM_THREADS=1: no barrier waits).
#pragma once

namespace cuviz::app {

// The wait policy cuviz uses unless the user chose one.
inline constexpr const char* kDefaultWaitPolicy = "passive";

// Call first thing in main(): returns when the OpenMP runtime already runs under the user's or
// cuviz's policy; otherwise sets OMP_WAIT_POLICY and re-executes /proc/self/exe with the same
// arguments (the same process id). If the re-execution fails, returns and runs with libgomp's
// default policy, which is slower under load but correct.
void choose_omp_wait_policy(char** argv);

}  // namespace cuviz::app
