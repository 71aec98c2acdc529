// The positive control of scripts/tsan.sh: one OpenMP loop with a real data race (every thread
// adds into one shared float) and one without. The script builds this with the TSan build's
// compiler and flags and requires TSan + Archer to report the race, so that a TSan run with no
// report means "no race found", not "the tool saw nothing".
#include <cstdio>
#include <vector>

int main() {
  std::vector<float> v(4096, 1.f), out(v.size());
  float sum = 0;
#pragma omp parallel for
  for (int i = 0; i < int(v.size()); ++i) sum += v[size_t(i)];  // the race
#pragma omp parallel for
  for (int i = 0; i < int(v.size()); ++i) out[size_t(i)] = 2 * v[size_t(i)];  // one writer per element
  std::printf("%g %g\n", double(sum), double(out[0]));
  return 0;
}
