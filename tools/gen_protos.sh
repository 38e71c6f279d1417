#!/usr/bin/env bash
# Regenerates the committed prost modules from the committed .proto files:
#   src/interop/onnx/onnx.proto               -> src/interop/onnx/onnx_proto.rs
#   src/interop/tensorboard/event.proto       -> src/interop/tensorboard/event_proto.rs
# Needs protoc (Debian: protobuf-compiler); convlab's own build needs neither it nor this tool.
# onnx.proto is the one shipped in the onnx Python package (1.23.2, IR version 13).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "needs protoc: apt-get install protobuf-compiler" >&2; exit 1; }
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/gen_protos}" cargo run -q --release --manifest-path tools/gen_protos/Cargo.toml
rustfmt --edition 2021 src/interop/onnx/onnx_proto.rs src/interop/tensorboard/event_proto.rs
