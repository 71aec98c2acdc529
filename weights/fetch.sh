#!/usr/bin/env bash
# Downloads the official pretrained files of a model into weights/<dir>/ (beside this script,
# or $CUVIZ_WEIGHTS_DIR), resuming partial downloads and verifying each file's published SHA1.
# Usage: weights/fetch.sh NAME...   NAME: googlenet squeezenet vgg16 vgg19 (or all)
set -euo pipefail

dest_root="${CUVIZ_WEIGHTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"

usage() {
  echo "usage: $0 NAME...   (NAME: googlenet squeezenet vgg16 vgg19 all)" >&2
  echo "downloads into $dest_root/<model dir>/; set CUVIZ_WEIGHTS_DIR to change" >&2
}

# One line per file: model, directory, file name, SHA1 ("-" when none is published), URL.
# Checksums: BVLC's model readme (GoogLeNet caffemodel); the others are pinned by OpenCV's,
# MXNet's and mexopencv's downloaders (see weights/README.md).
files() {
  cat <<'LIST'
googlenet bvlc_googlenet bvlc_googlenet.caffemodel 405fc5acd08a3bb12de8ee5e23a96bec22f08204 http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel
googlenet bvlc_googlenet deploy.prototxt 7060345c8012294baa60eeb5901d2d3fd89d75fc https://raw.githubusercontent.com/BVLC/caffe/master/models/bvlc_googlenet/deploy.prototxt
squeezenet squeezenet_v1.1 squeezenet_v1.1.caffemodel 3397f026368a45ae236403ccc81cfcbe8ebe1bd0 https://raw.githubusercontent.com/DeepScale/SqueezeNet/b5c3f1a23713c8b3fd7b801d229f6b04c64374a5/SqueezeNet_v1.1/squeezenet_v1.1.caffemodel
squeezenet squeezenet_v1.1 deploy.prototxt c226bbaaa4d83e2a3d3727618091e897e5f2e3aa https://github.com/DeepScale/SqueezeNet/raw/master/SqueezeNet_v1.1/deploy.prototxt
vgg16 vgg16 VGG_ILSVRC_16_layers.caffemodel 9363e1f6d65f7dba68c4f27a1e62105cdf6c4e24 http://www.robots.ox.ac.uk/~vgg/software/very_deep/caffe/VGG_ILSVRC_16_layers.caffemodel
vgg16 vgg16 VGG_ILSVRC_16_layers_deploy.prototxt 2734e5500f1445bd7c9fee540c99f522485247bd https://gist.githubusercontent.com/ksimonyan/211839e770f7b538e2d8/raw/0067c9b32f60362c74f4c445a080beed06b07eb3/VGG_ILSVRC_16_layers_deploy.prototxt
vgg19 vgg19 VGG_ILSVRC_19_layers.caffemodel 239785e7862442717d831f682bb824055e51e9ba http://www.robots.ox.ac.uk/~vgg/software/very_deep/caffe/VGG_ILSVRC_19_layers.caffemodel
vgg19 vgg19 VGG_ILSVRC_19_layers_deploy.prototxt - https://gist.githubusercontent.com/ksimonyan/3785162f95cd2d5fee77/raw/bb2b4fe0a9bb0669211cf3d0bc949dfdda173e9e/VGG_ILSVRC_19_layers_deploy.prototxt
LIST
}

# Downloads URL to FILE, continuing a FILE.part left by an interrupted run.
download() {
  local url="$1" file="$2" rc=0
  if command -v curl >/dev/null; then
    curl -fL --retry 3 --connect-timeout 20 -C - -o "$file.part" "$url" || rc=$?
  elif command -v wget >/dev/null; then
    wget -q --tries=3 --timeout=20 -c -O "$file.part" "$url" || rc=$?
  else
    echo "error: neither curl nor wget is installed" >&2
    return 2
  fi
  if [ "$rc" -ne 0 ]; then
    local host="${url#*://}"
    host="${host%%/*}"
    echo "error: download of $url failed (exit $rc): cannot reach $host (offline?)." >&2
    echo "       Fetch it on a connected machine and put it at $file" >&2
    return 1
  fi
  mv "$file.part" "$file"
}

verify() {
  local file="$1" sha1="$2"
  [ "$sha1" = "-" ] && { echo "  $file: no published checksum, not verified"; return 0; }
  local got
  got=$(sha1sum "$file" | cut -d' ' -f1)
  if [ "$got" != "$sha1" ]; then
    echo "error: $file has SHA1 $got, expected $sha1 (corrupt or changed upstream); removed" >&2
    rm -f "$file"
    return 1
  fi
  echo "  $file: SHA1 ok"
}

fetch_model() {
  local name="$1" found=0 model dir file sha1 url
  while read -r model dir file sha1 url; do
    [ "$model" = "$name" ] || continue
    found=1
    mkdir -p "$dest_root/$dir"
    local path="$dest_root/$dir/$file"
    if [ -f "$path" ]; then
      echo "$path exists"
    else
      echo "downloading $url"
      download "$url" "$path" || return 1
    fi
    verify "$path" "$sha1" || return 1
  done < <(files)
  [ "$found" = 1 ] || { echo "error: unknown model '$name'" >&2; usage; return 2; }
}

[ $# -ge 1 ] || { usage; exit 2; }
names=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    all) names+=(googlenet squeezenet vgg16 vgg19) ;;
    googlenet|squeezenet|vgg16|vgg19) names+=("$arg") ;;
    *) echo "error: unknown model '$arg'" >&2; usage; exit 2 ;;
  esac
done
status=0
for n in "${names[@]}"; do fetch_model "$n" || status=1; done
exit "$status"
