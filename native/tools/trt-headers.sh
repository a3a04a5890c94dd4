#!/usr/bin/env bash
# Assembles TensorRT header folders for compile-checking the shim (test/runtime/shimCompile.test.ts), from local git
# copies of the public NVIDIA/TensorRT and onnx/onnx-tensorrt repositories. The headers are NVIDIA's: they go into
# OUT (outside this repository) and are never committed.
#
#   native/tools/trt-headers.sh <TensorRT git dir> <onnx-tensorrt git dir> <OUT>
#   EFFNET_EDGE_TRT_HEADERS=$(native/tools/trt-headers.sh … | tail -n 1) npm test
#
# Each line of RELEASES: a TensorRT tag, and the onnx-tensorrt ref whose NvOnnxParser.h goes with it (before 10.x the
# TensorRT repository keeps the parser in a submodule, which `git archive` leaves out; "-": the tag has its own).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 <TensorRT git dir> <onnx-tensorrt git dir> <out dir>" >&2; exit 2; }
trt=$1 parser=$2 out=$3
RELEASES="
8.0.1 release/8.0
8.2.1 release/8.2-GA
8.5.2 release/8.5-GA
v8.6.1 release/8.6-GA
v10.3.0 release/10.1-GA
v10.16 -
v11.1 -
"
folders=()
while read -r tag ref; do
  [ -n "$tag" ] || continue
  mkdir -p "$out/$tag"
  git --git-dir="$trt" archive "$tag" include | tar -x -C "$out/$tag"
  if [ "$ref" != "-" ]; then git --git-dir="$parser" show "$ref:NvOnnxParser.h" > "$out/$tag/include/NvOnnxParser.h"; fi
  folders+=("$out/$tag/include")
done <<< "$RELEASES"
(IFS=:; echo "${folders[*]}")
