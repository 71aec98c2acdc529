#!/usr/bin/env bash
# weights/fetch.sh's checksums, offline (run by CTest as weights_fetch_checksum):
#   - from a file:// mirror of the shared weights (CUVIZ_FETCH_BASE): every file arrives byte for
#     byte and passes its SHA-256; a second run keeps them; a corrupted mirror file, a corrupted
#     file already in place, a file missing from the mirror and a model the mirror lacks each end
#     with one "error:" line, exit 1 and no file (nor .part) left behind;
#   - from the upstream URLs, through a local HTTP proxy (python3 -m http.server answers a proxy's
#     "GET http://host/path" with ./path): the labels come out of Caffe's ILSVRC12 archive and pass
#     their SHA-256, a changed label fails it, and the shared GoogLeNet caffemodel fails BVLC's
#     SHA1 (it is the project's deploy-only copy, not BVLC's 51 MB file).
# Usage: fetch_checksum_test.sh SOURCE_DIR SHARED_DIR. Exit 77 (skipped) without the shared weights.
set -uo pipefail
src="$1"
shared="$2/weights"
fetch="$src/weights/fetch.sh"
[ -f "$shared/squeezenet_v1.1/squeezenet_v1.1.caffemodel" ] || { echo "shared weights not found: skipped"; exit 77; }
command -v curl >/dev/null || { echo "curl not found: skipped"; exit 77; }

tmp=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run DEST ARGS...: fetch.sh into DEST; sets rc, out (stdout), err (stderr).
run() {
  local dest="$1"
  shift
  CUVIZ_WEIGHTS_DIR="$dest" bash "$fetch" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}
# expect_error WHAT MUST_CONTAIN...: exit 1 and exactly one stderr line "error: ..." with each phrase.
expect_error() {
  local what="$1"
  shift
  [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$what: stderr is not one line: $err"
  [[ "$err" == error:* ]] || fail "$what: stderr does not start with 'error:': $err"
  for phrase in "$@"; do [[ "$err" == *"$phrase"* ]] || fail "$what: error lacks '$phrase': $err"; done
}
# no_leftovers WHAT DIR: no .part file (nor archive part) anywhere under DIR.
no_leftovers() {
  local left
  left=$(find "$2" -name '*.part' 2>/dev/null)
  [ -z "$left" ] || fail "$1: left behind: $left"
}

# ---- the mirror: symbolic links to the shared files, laid out as <dir>/<file> ----------------
mirror="$tmp/mirror"
mkdir -p "$mirror/squeezenet_v1.1" "$mirror/labels"
for f in squeezenet_v1.1/squeezenet_v1.1.caffemodel squeezenet_v1.1/deploy.prototxt squeezenet_v1.1/squeezenet_v1.1.onnx \
         labels/imagenet_synset_words.txt; do
  ln -s "$shared/$f" "$mirror/$f"
done
export CUVIZ_FETCH_BASE="file://$mirror"

run "$tmp/w" squeezenet
[ "$rc" = 0 ] || fail "mirror fetch: exit $rc: $err"
[ -z "$err" ] || fail "mirror fetch: stderr: $err"
for f in squeezenet_v1.1/squeezenet_v1.1.caffemodel squeezenet_v1.1/deploy.prototxt squeezenet_v1.1/squeezenet_v1.1.onnx \
         labels/imagenet_synset_words.txt; do
  cmp -s "$shared/$f" "$tmp/w/$f" || fail "mirror fetch: $f differs from the shared copy"
done
[ "$(grep -c 'SHA-256 ok' <<<"$out")" = 4 ] || fail "mirror fetch: not 4 SHA-256 checks: $out"
no_leftovers "mirror fetch" "$tmp/w"

run "$tmp/w" squeezenet
[ "$rc" = 0 ] || fail "second run: exit $rc: $err"
[ "$(grep -c 'exists, SHA-256 ok' <<<"$out")" = 4 ] || fail "second run: files not kept and checked: $out"

# A corrupted mirror file: one error, nothing under its name.
rm "$mirror/squeezenet_v1.1/deploy.prototxt"
sed 's/fire2/fire7/' "$shared/squeezenet_v1.1/deploy.prototxt" >"$mirror/squeezenet_v1.1/deploy.prototxt"
run "$tmp/w2" squeezenet
expect_error "corrupt mirror file" "deploy.prototxt" "SHA-256" "expected 0c5d0bf6" "removed"
[ ! -e "$tmp/w2/squeezenet_v1.1/deploy.prototxt" ] || fail "corrupt mirror file: it was installed"
no_leftovers "corrupt mirror file" "$tmp/w2"

# A corrupted file already in place is reported and left alone (the script did not download it).
echo "extra" >>"$tmp/w/labels/imagenet_synset_words.txt"
run "$tmp/w" labels
expect_error "corrupt file in place" "imagenet_synset_words.txt" "matches no known checksum" "remove it"
[ -f "$tmp/w/labels/imagenet_synset_words.txt" ] || fail "corrupt file in place: it was removed"

# A file missing from the mirror, and a model the mirror does not have.
ln -sf "$shared/squeezenet_v1.1/deploy.prototxt" "$mirror/squeezenet_v1.1/deploy.prototxt"
rm "$mirror/squeezenet_v1.1/squeezenet_v1.1.onnx"
run "$tmp/w3" squeezenet
expect_error "missing mirror file" "squeezenet_v1.1.onnx" "cannot read it"
[ ! -e "$tmp/w3/squeezenet_v1.1/squeezenet_v1.1.onnx" ] || fail "missing mirror file: installed"
no_leftovers "missing mirror file" "$tmp/w3"
run "$tmp/w4" vgg16
expect_error "model not in the mirror" "no reference copy of vgg16"
[ -z "$(ls -A "$tmp/w4" 2>/dev/null)" ] || fail "model not in the mirror: fetched something"
unset CUVIZ_FETCH_BASE

# ---- upstream, through a local proxy -------------------------------------------------------
served="$tmp/served"
mkdir -p "$served"
cp "$shared/labels/imagenet_synset_words.txt" "$tmp/synset_words.txt"
tar -czf "$served/caffe_ilsvrc12.tar.gz" -C "$tmp" synset_words.txt
ln -s "$shared/bvlc_googlenet/bvlc_googlenet.caffemodel" "$served/bvlc_googlenet.caffemodel"
# http.server maps a proxy request's path "http://host/file" to ./http:/host/file.
mkdir -p "$served/http:"
ln -s .. "$served/http:/dl.caffe.berkeleyvision.org"
port=""
for try in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 20000))
  (cd "$served" && exec python3 -m http.server --bind 127.0.0.1 "$p" >/dev/null 2>&1) &
  server=$!
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$p/" && { port=$p; break; }
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] && break
  kill "$server" 2>/dev/null
  server=""
done
if [ -z "$port" ]; then
  echo "could not start a local HTTP server: the upstream part is skipped"
else
  export http_proxy="http://127.0.0.1:$port" HTTP_PROXY="http://127.0.0.1:$port"

  run "$tmp/u" labels
  [ "$rc" = 0 ] || fail "upstream labels: exit $rc: $err"
  cmp -s "$shared/labels/imagenet_synset_words.txt" "$tmp/u/labels/imagenet_synset_words.txt" ||
    fail "upstream labels: not the archive's synset_words.txt"
  grep -q 'SHA-256 ok' <<<"$out" || fail "upstream labels: not checked: $out"
  no_leftovers "upstream labels" "$tmp/u"
  [ -z "$(find "$tmp/u" -name '.*')" ] || fail "upstream labels: the archive was left behind"

  sed 's/^n01440764 tench/n01440764 trench/' "$shared/labels/imagenet_synset_words.txt" >"$tmp/synset_words.txt"
  tar -czf "$served/caffe_ilsvrc12.tar.gz" -C "$tmp" synset_words.txt
  run "$tmp/u2" labels
  expect_error "changed upstream labels" "imagenet_synset_words.txt" "SHA-256" "expected acf75ef0" "removed"
  [ ! -e "$tmp/u2/labels/imagenet_synset_words.txt" ] || fail "changed upstream labels: installed"
  no_leftovers "changed upstream labels" "$tmp/u2"

  run "$tmp/u3" googlenet
  expect_error "upstream caffemodel" "bvlc_googlenet.caffemodel" "SHA-1" "expected 405fc5ac" "removed"
  [ ! -e "$tmp/u3/bvlc_googlenet/bvlc_googlenet.caffemodel" ] || fail "upstream caffemodel: installed"
  no_leftovers "upstream caffemodel" "$tmp/u3"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "weights/fetch.sh checksum checks passed"
