//! Files for other tools: ONNX models (`onnx`, for onnxruntime and Netron) and TensorBoard event
//! files (`tensorboard`, for live training curves). Each writes a protobuf format whose messages
//! were generated once from the format's .proto file (tools/gen_protos.sh), so the build needs no
//! protoc.

pub mod onnx;
pub mod tensorboard;
