#!/usr/bin/env bash
# Downloads the pretrained files of a model, and the ImageNet labels, into weights/<dir>/ (beside
# this script, or $CUVIZ_WEIGHTS_DIR), resuming partial downloads and verifying the checksum of
# every file before it takes its final name. What each NAME fetches, from where, under which
# licence, with which checksum: weights/README.md.
#
# Usage: weights/fetch.sh NAME...   NAME: googlenet squeezenet vgg16 vgg19 (or all), or labels alone
#
# Two sources:
#   - upstream (default): the publishers' own URLs (BVLC, DeepScale, Oxford VGG, Caffe's ILSVRC12
#     auxiliary archive for the labels), checked against the checksums in `upstream_files`;
#   - a mirror of the project's reference copies (CUVIZ_FETCH_BASE=URL or directory, laid out as
#     <base>/<dir>/<file>, e.g. a copy of the shared weights folder the tests use), checked
#     against the SHA-256 of those copies (`mirror_files`). They include the ONNX conversions.
# A file whose checksum differs is removed (nothing is left under its name or as .part) and the
# script stops with one line "error: ..." and exit code 1. Exit code 2: a usage error.
set -euo pipefail

dest_root="${CUVIZ_WEIGHTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
base="${CUVIZ_FETCH_BASE:-}"

usage() {
  echo "usage: $0 NAME...   (NAME: googlenet squeezenet vgg16 vgg19 all labels)" >&2
  echo "downloads into $dest_root/<model dir>/; set CUVIZ_WEIGHTS_DIR to change," >&2
  echo "CUVIZ_FETCH_BASE=URL|DIR to fetch the project's reference copies from a mirror (weights/README.md)" >&2
}

# One line per file: model, directory, file name, checksum, URL[, member of the archive at URL].
# Checksum: sha256:HEX or sha1:HEX, the strongest one published or pinned for the file (BVLC
# publishes SHA1 only; the (3rd) ones of weights/README.md are pinned by OpenCV's, MXNet's and
# mexopencv's downloaders), or "-" when none is known. The labels are the synset_words.txt of
# Caffe's ILSVRC12 auxiliary archive, checked against the project's copy (weights/README.md).
upstream_files() {
  cat <<'LIST'
googlenet bvlc_googlenet bvlc_googlenet.caffemodel sha1:405fc5acd08a3bb12de8ee5e23a96bec22f08204 http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel
googlenet bvlc_googlenet deploy.prototxt sha1:7060345c8012294baa60eeb5901d2d3fd89d75fc https://raw.githubusercontent.com/BVLC/caffe/master/models/bvlc_googlenet/deploy.prototxt
squeezenet squeezenet_v1.1 squeezenet_v1.1.caffemodel sha1:3397f026368a45ae236403ccc81cfcbe8ebe1bd0 https://raw.githubusercontent.com/DeepScale/SqueezeNet/b5c3f1a23713c8b3fd7b801d229f6b04c64374a5/SqueezeNet_v1.1/squeezenet_v1.1.caffemodel
squeezenet squeezenet_v1.1 deploy.prototxt sha1:c226bbaaa4d83e2a3d3727618091e897e5f2e3aa https://github.com/DeepScale/SqueezeNet/raw/master/SqueezeNet_v1.1/deploy.prototxt
vgg16 vgg16 VGG_ILSVRC_16_layers.caffemodel sha1:9363e1f6d65f7dba68c4f27a1e62105cdf6c4e24 http://www.robots.ox.ac.uk/~vgg/software/very_deep/caffe/VGG_ILSVRC_16_layers.caffemodel
vgg16 vgg16 VGG_ILSVRC_16_layers_deploy.prototxt sha1:2734e5500f1445bd7c9fee540c99f522485247bd https://gist.githubusercontent.com/ksimonyan/211839e770f7b538e2d8/raw/0067c9b32f60362c74f4c445a080beed06b07eb3/VGG_ILSVRC_16_layers_deploy.prototxt
vgg19 vgg19 VGG_ILSVRC_19_layers.caffemodel sha1:239785e7862442717d831f682bb824055e51e9ba http://www.robots.ox.ac.uk/~vgg/software/very_deep/caffe/VGG_ILSVRC_19_layers.caffemodel
vgg19 vgg19 VGG_ILSVRC_19_layers_deploy.prototxt - https://gist.githubusercontent.com/ksimonyan/3785162f95cd2d5fee77/raw/bb2b4fe0a9bb0669211cf3d0bc949dfdda173e9e/VGG_ILSVRC_19_layers_deploy.prototxt
labels labels imagenet_synset_words.txt sha256:acf75ef0abe89694b19056e0796401068b459c457baa30335f240c7692857355 http://dl.caffe.berkeleyvision.org/caffe_ilsvrc12.tar.gz synset_words.txt
LIST
}

# The project's reference copies (the files the tests and docs were made with): model, directory,
# file name, SHA-256. They are fetched from $CUVIZ_FETCH_BASE/<directory>/<file name>.
mirror_files() {
  cat <<'LIST'
googlenet bvlc_googlenet bvlc_googlenet.caffemodel sha256:3fff59d3ac6068faf7ab24da4931651d611a28fba5c57e7706981e7ac333686d
googlenet bvlc_googlenet deploy.prototxt sha256:b54d43507240e27b08922b21810a9e8cd4ed871f361dc82db3c60086d4b75585
googlenet bvlc_googlenet bvlc_googlenet.onnx sha256:2597091f8c04a8c908068d703f0d77c2946c6c158253d25dc4171fd5d87ba11f
squeezenet squeezenet_v1.1 squeezenet_v1.1.caffemodel sha256:7c097de93c5a2fada61d653e80f51e5b7ef4e8c875fa355e8f2462e4303964b9
squeezenet squeezenet_v1.1 deploy.prototxt sha256:0c5d0bf6beff8c1a242b3ca8c1dd0bed280c59675cb0050d88a3bd4f9bad2567
squeezenet squeezenet_v1.1 squeezenet_v1.1.onnx sha256:e32afc91a4b967612afcb828f662e1cc7279ae5cc015ca4d0d604b026185342f
labels labels imagenet_synset_words.txt sha256:acf75ef0abe89694b19056e0796401068b459c457baa30335f240c7692857355
LIST
}

# Copies URL to FILE: a local path or file:// URL is copied, anything else is downloaded,
# continuing a FILE left by an interrupted run.
download() {
  local url="$1" file="$2" rc=0
  case "$url" in
    /*) cp -- "$url" "$file" 2>/dev/null || rc=$? ;;
    file://*) cp -- "${url#file://}" "$file" 2>/dev/null || rc=$? ;;
    *)
      # A progress bar on a terminal; otherwise quiet, and the one error line below says why.
      local show=-s wshow=-q
      [ -t 2 ] && show=--progress-bar && wshow="-q --show-progress"
      if command -v curl >/dev/null; then
        curl -fL $show --retry 3 --connect-timeout 20 -C - -o "$file" "$url" || rc=$?
      elif command -v wget >/dev/null; then
        wget $wshow --tries=3 --timeout=20 -c -O "$file" "$url" || rc=$?
      else
        echo "error: neither curl nor wget is installed" >&2
        return 1
      fi
      ;;
  esac
  if [ "$rc" -ne 0 ]; then
    local host="${url#*://}"
    host="${host%%/*}"
    case "$url" in
      /* | file://*) echo "error: download of $url failed: cannot read it" >&2 ;;
      *) echo "error: download of $url failed (exit $rc): cannot reach $host (offline?); fetch it on a connected machine and put it at ${file%.part}" >&2 ;;
    esac
    return 1
  fi
}

# The HEX digest of FILE with ALGO (sha256 or sha1).
digest() {
  local algo="$1" file="$2"
  if command -v "${algo}sum" >/dev/null; then
    "${algo}sum" "$file" | cut -d' ' -f1
  else
    shasum -a "${algo#sha}" "$file" | cut -d' ' -f1
  fi
}

# "SHA-256" for sha256.
algo_label() { echo "$1" | tr 'a-z' 'A-Z' | sed 's/SHA/SHA-/'; }

# Checks FILE against CHECKSUM (ALGO:HEX or -); on a mismatch removes FILE and says so on one line.
# NAME is what the messages call the file.
verify() {
  local file="$1" checksum="$2" name="$3"
  if [ "$checksum" = "-" ]; then
    echo "  $name: no published checksum, not verified"
    return 0
  fi
  local algo="${checksum%%:*}" want="${checksum#*:}" got
  got=$(digest "$algo" "$file")
  local label
  label=$(algo_label "$algo")
  if [ "$got" != "$want" ]; then
    rm -f -- "$file"
    echo "error: $name has $label $got, expected $want (corrupt download, or changed upstream); removed it" >&2
    return 1
  fi
  echo "  $name: $label ok"
}

# A file already in place (fetched before, from either source, or put there by hand) is kept
# when it matches any checksum known for it, upstream or reference copy. Otherwise it is an
# error, and the file is left alone: the script removes only what it downloaded itself.
verify_existing() {
  local dir="$1" file="$2" path="$3" d f checksum rest algo
  while read -r _ d f checksum rest; do
    [ "$d" = "$dir" ] && [ "$f" = "$file" ] || continue
    if [ "$checksum" = "-" ]; then
      echo "$path exists (no published checksum, not verified)"
      return 0
    fi
    algo="${checksum%%:*}"
    if [ "$(digest "$algo" "$path")" = "${checksum#*:}" ]; then
      echo "$path exists, $(algo_label "$algo") ok"
      return 0
    fi
  done < <(upstream_files; mirror_files)
  echo "error: $path exists but matches no known checksum of $file (weights/README.md); remove it to fetch it again" >&2
  return 1
}

# Fetches one file into DIR/FILE: downloaded (or extracted from the archive at URL) as FILE.part,
# verified, then renamed, so that FILE exists only when its checksum matched.
fetch_file() {
  local dir="$1" file="$2" checksum="$3" url="$4" member="${5:-}"
  mkdir -p "$dest_root/$dir"
  local path="$dest_root/$dir/$file" part="$dest_root/$dir/$file.part"
  if [ -f "$path" ]; then
    verify_existing "$dir" "$file" "$path"
    return
  fi
  echo "fetching $url${member:+ ($member)}"
  if [ -n "$member" ]; then
    local archive="$dest_root/$dir/.$(basename "$url").part"
    download "$url" "$archive" || return 1
    if ! tar -xzOf "$archive" "$member" >"$part" 2>/dev/null; then
      rm -f -- "$archive" "$part"
      echo "error: $url has no readable $member (not the expected archive?)" >&2
      return 1
    fi
    rm -f -- "$archive"
  else
    download "$url" "$part" || { [ -s "$part" ] || rm -f -- "$part"; return 1; }
  fi
  verify "$part" "$checksum" "$path" || return 1
  mv -- "$part" "$path"
}

# The file list of the source in use.
source_files() { if [ -n "$base" ]; then mirror_files; else upstream_files; fi; }

# Fetches every file of model NAME, then the labels.
fetch_model() {
  local name="$1" model dir file checksum url member
  if ! source_files | grep -q "^$name "; then
    echo "error: $base holds no reference copy of $name (the mirror has googlenet and squeezenet; unset CUVIZ_FETCH_BASE to fetch upstream)" >&2
    return 1
  fi
  while read -r model dir file checksum url member; do
    [ "$model" = "$name" ] || [ "$model" = labels ] || continue
    if [ -n "$base" ]; then
      member=""
      url="${base%/}/$dir/$file"
    fi
    fetch_file "$dir" "$file" "$checksum" "$url" "$member" || return 1
  done < <(source_files)
}

[ $# -ge 1 ] || { usage; exit 2; }
names=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    all) names+=(googlenet squeezenet vgg16 vgg19) ;;
    googlenet|squeezenet|vgg16|vgg19|labels) names+=("$arg") ;;
    *) echo "error: unknown model '$arg'" >&2; usage; exit 2 ;;
  esac
done
status=0
for n in "${names[@]}"; do fetch_model "$n" || status=1; done
exit "$status"
