#!/usr/bin/env bash
# Checks cuviz as an installed package, the way a user meets it (scripts/test.sh runs this in CI):
#   1. `cmake --install` of a built tree into a fresh temporary prefix;
#   2. tests/package/consumer, a separate project, configured against that prefix with
#      find_package(cuviz) and linked to cuviz::cuviz, built and run (it runs a network built in
#      code, and loads GoogLeNet when the weights are found);
#   3. the same main.cpp compiled by hand with `pkg-config --cflags --libs cuviz`, and run;
#   4. the installed `cuviz` binary runs from the prefix (`cuviz info googlenet` with weights);
#   5. no linked-but-unused library, in two halves since a linker may or may not drop one itself:
#      a. every shared library on cuviz's link line (the command CMake generated) is among the
#         binary's NEEDED entries: a library dropped by --as-needed (this GCC's default) was
#         asked for and never used;
#      b. `ldd -u -r` (the direct dependencies no symbol is taken from; what a library linked
#         with --no-as-needed and never used looks like) prints nothing, for the built and the
#         installed binary (and, with BUILD_SHARED_LIBS=ON, each libcuviz_*.so).
#      a. is what CI runs (static libraries: the binary's link line is the union of them all).
#      Both halves are first shown to fail on a program linked to libstb, which it does not use;
#   6. `-DBUILD_TESTING=OFF` configures with GoogleTest and Google Benchmark made unfindable.
#
#   bash scripts/package-check.sh [BUILD_DIR]        # default: $BUILD_DIR or build
#   bash scripts/package-check.sh --deb BUILD_DIR    # also: cpack -G DEB in BUILD_DIR, extract the
#                                                    # .deb and run cuviz from the extracted tree
# Exit 0 when every check holds; the first failure prints "package-check: FAIL ..." and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

deb=0
if [[ ${1:-} == --deb ]]; then deb=1; shift; fi
build=${1:-${BUILD_DIR:-build}}
[[ -f $build/CMakeCache.txt ]] || { echo "package-check: FAIL: $build is not a configured build tree" >&2; exit 1; }
build=$(cd "$build" && pwd)

fail() { echo "package-check: FAIL: $*" >&2; exit 1; }
step() { echo "package-check: $*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cuviz-package-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The weights, found the way the tests find them: $CUVIZ_MODEL_PATH, else ../shared/weights.
weights=""
mp=${CUVIZ_MODEL_PATH:-}
for d in ${mp//:/ } "$src/../shared/weights"; do
  if [[ -f $d/bvlc_googlenet/bvlc_googlenet.caffemodel || -f $d/bvlc_googlenet.caffemodel ]]; then
    weights=$(cd "$d" && pwd); break
  fi
done
[[ -n $weights ]] || step "no GoogLeNet weights found: the model-loading checks are skipped"

# 5. Linked-but-unused libraries. soname FILE: the DT_SONAME of a shared library.
soname() { objdump -p "$1" 2>/dev/null | awk '$1 == "SONAME" { print $2 }'; }
needed() { objdump -p "$1" | awk '$1 == "NEEDED" { print $2 }'; }
# The shared libraries a link command names (paths to .so files and -lNAME), as sonames.
link_line_sonames() {
  local t f
  for t in "$@"; do
    case "$t" in
      -l*) f=$(cc -print-file-name="lib${t#-l}.so"); [[ $f == /* ]] || continue ;;
      -*) continue ;;
      *.so|*.so.*) f=$t ;;
      *) continue ;;
    esac
    f=$(readlink -f "$f")
    [[ -f $f ]] && soname "$f"
  done | sort -u
}
# Every library the loader maps for BINARY (NEEDED and theirs), as sonames.
loaded() { ldd "$1" | awk '$2 == "=>" { print $1 }' | sort -u; }
# unused BINARY LINK-COMMAND...: prints every library linked but not used, by either half. A
# library on the link line that the binary does not need but one of its NEEDED libraries does is
# not counted: an imported target brought it (CUDA::cublas names libcublasLt, which libcublas
# loads anyway), and it costs nothing.
unused() {
  local bin=$1; shift
  comm -23 <(link_line_sonames "$@") <(needed "$bin" | sort -u) | comm -23 - <(loaded "$bin") \
    | sed 's/$/ (on the link line, not NEEDED)/'
  ldd -u -r "$bin" 2>&1 | grep -v '^Unused direct dependencies:$' | sed '/^\s*$/d; s/$/ (NEEDED, no symbol used)/' || true
}

# 5a/b can fail: a program that uses nothing of libstb (one of our own dependencies, so always
# installed), linked to it the default way and with --no-as-needed.
printf 'int main() { return 0; }\n' > "$tmp/unused.c"
cc -o "$tmp/unused-default" "$tmp/unused.c" -lstb
cc -o "$tmp/unused-noasneeded" "$tmp/unused.c" -Wl,--no-as-needed -lstb
unused "$tmp/unused-default" -lstb | grep -q libstb || fail "the link-line check misses an unused libstb"
unused "$tmp/unused-noasneeded" -lstb | grep -q libstb || fail "the ldd -u check misses an unused libstb"

# The built binary against the link command CMake generated for it. With the static libraries
# (the default, and CI) that line is the union of what every library asks for, so an unused
# dependency of any of them shows there. With BUILD_SHARED_LIBS=ON the binary's line also carries
# the libraries' public usage requirements it does not call itself (OpenMP, for the pragmas in
# kernels/ and viz/ headers), which --as-needed drops at no cost: there the libcuviz_*.so files
# and the binary get the ldd -u half only.
cmake --build "$build" --target cuviz > /dev/null  # up to date (reconfigures when CMakeLists.txt changed)
checked=("$build/cuviz")
if grep -q '^BUILD_SHARED_LIBS:BOOL=ON' "$build/CMakeCache.txt"; then
  for l in core io kernels nn viz; do checked+=("$build/libcuviz_$l.so"); done
  for f in "${checked[@]}"; do
    u=$(unused "$f")
    [[ -z $u ]] || fail "$f: ldd -u -r lists unused direct dependencies:"$'\n'"$u"
  done
  step "cuviz and libcuviz_*.so: ldd -u -r lists no unused direct dependency"
else
  if [[ -f $build/build.ninja ]]; then
    read -r -a link_cmd <<< "$(cd "$build" && ninja -t commands cuviz | tail -1)"
  else
    read -r -a link_cmd <<< "$(cat "$build/CMakeFiles/cuviz.dir/link.txt")"  # Makefiles
  fi
  ((${#link_cmd[@]} > 3)) || fail "could not read cuviz's link command"
  u=$(cd "$build" && unused "$build/cuviz" "${link_cmd[@]}")
  [[ -z $u ]] || fail "$build/cuviz links libraries it does not use (drop them from CMakeLists.txt):"$'\n'"$u"
  step "cuviz links $(cd "$build" && link_line_sonames "${link_cmd[@]}" | wc -l) shared libraries, all used (NEEDED: $(needed "$build/cuviz" | tr '\n' ' '))"
fi

# 1. Install into a fresh prefix.
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
config=$(find "$prefix" -name cuviz-config.cmake | head -1)
pc=$(find "$prefix" -name cuviz.pc | head -1)
[[ -n $config && -n $pc && -x $prefix/bin/cuviz && -f $prefix/include/cuviz/core/tensor.h ]] \
  || fail "the install lacks cuviz-config.cmake, cuviz.pc, bin/cuviz or include/cuviz/core/tensor.h"
step "installed $(find "$prefix" -type f | wc -l) files into a temporary prefix"

# 4 + 5c. The installed binary runs and links nothing it does not use.
"$prefix/bin/cuviz" --help > /dev/null || fail "installed cuviz --help"
if [[ -n $weights ]]; then
  "$prefix/bin/cuviz" info googlenet --model-dir "$weights" | tail -1 | grep -q "layers" || fail "installed cuviz info googlenet"
  step "installed cuviz: $("$prefix/bin/cuviz" info googlenet --model-dir "$weights" | tail -1)"
fi
u=$(unused "$prefix/bin/cuviz")
[[ -z $u ]] || fail "installed cuviz links libraries it does not use:"$'\n'"$u"

# 2. The consumer project through find_package(cuviz).
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S tests/package/consumer -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" > "$tmp/consumer.log" 2>&1 \
  || { cat "$tmp/consumer.log"; fail "configuring tests/package/consumer against the installed package"; }
cmake --build "$tmp/consumer" > "$tmp/consumer-build.log" 2>&1 \
  || { cat "$tmp/consumer-build.log"; fail "building tests/package/consumer"; }
consumer_args=()
[[ -n $weights ]] && consumer_args=(googlenet)
CUVIZ_MODEL_PATH=$weights "$tmp/consumer/consumer" "${consumer_args[@]}" || fail "tests/package/consumer (find_package) failed"
step "consumer through find_package(cuviz) + cuviz::cuviz: built and ran"

# 3. The same program through pkg-config.
PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --exists cuviz || fail "pkg-config does not find cuviz.pc"
read -r -a pcflags <<< "$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs cuviz)"
c++ -std=c++20 -O1 -o "$tmp/consumer-pc" tests/package/consumer/main.cpp "${pcflags[@]}" \
  -Wl,-rpath,"$(dirname "$(dirname "$pc")")" || fail "building the consumer with pkg-config --cflags --libs cuviz"
CUVIZ_MODEL_PATH=$weights "$tmp/consumer-pc" "${consumer_args[@]}" > /dev/null || fail "the pkg-config consumer failed"
step "consumer through pkg-config: built and ran"

# 6. A library-only configure needs neither GoogleTest nor Google Benchmark: CMake is told they
# are absent, and no test or benchmark target may appear.
cmake -S . -B "$tmp/no-tests" -G Ninja -DCUVIZ_CUDA=OFF -DBUILD_TESTING=OFF -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
      -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON > "$tmp/no-tests.log" 2>&1 \
  || { cat "$tmp/no-tests.log"; fail "configuring with BUILD_TESTING=OFF and no GoogleTest/Google Benchmark"; }
if ninja -C "$tmp/no-tests" -t targets all | grep -qE '(_test|_bench):'; then
  fail "BUILD_TESTING=OFF still defines test or benchmark targets"
fi
step "BUILD_TESTING=OFF configures without GoogleTest and Google Benchmark"

# The .deb (not in CI: it wants a build configured for packaging, see docs/install.md).
if ((deb)); then
  (cd "$build" && cpack -G DEB > "$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
  pkg=$(ls -t "$build"/cuviz_*.deb | head -1)
  step "$(basename "$pkg"): Depends: $(dpkg-deb -f "$pkg" Depends)"
  dpkg-deb -x "$pkg" "$tmp/deb"
  bin=$(find "$tmp/deb" -path '*/bin/cuviz' | head -1)
  [[ -x $bin ]] || fail "no bin/cuviz in $pkg"
  if [[ -n $weights ]]; then
    "$bin" info googlenet --model-dir "$weights" | tail -1 | grep -q layers || fail "cuviz from the extracted .deb"
    step "cuviz from the extracted .deb: $("$bin" info googlenet --model-dir "$weights" | tail -1)"
  fi
fi
step "all checks passed"
