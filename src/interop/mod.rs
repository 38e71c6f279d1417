//! Files of other tools and frameworks.
//!
//! PyTorch: reading the `.pt` files `torch.save` writes (state dicts, checkpoints, whole
//! `nn.Sequential`s, in the zip and the legacy format) without Python and without running
//! anything from them, and writing a model back as a `.pt` state dict with the PyTorch code of
//! its `nn.Sequential`:
//! - [`pickle`]: the restricted unpickler; [`torch_globals`]: the globals it allows and what
//!   each builds;
//! - [`pt_read`]: the two file formats and the tensors' bytes; [`contents`]: which part of a file
//!   is the model; [`torch_module`]: a pickled `nn.Sequential` as a spec;
//! - [`import`]: a convlab model from a `.pt` or safetensors file;
//! - [`pt_write`]: a model as a `.pt` state dict; [`torch_code`]: its `nn.Sequential` in Python.
//!
//! ONNX models ([`onnx`], for onnxruntime and Netron) and TensorBoard event files
//! ([`tensorboard`], for live training curves): protobuf formats whose messages were generated
//! once from the format's .proto file (tools/gen_protos.sh), so the build needs no protoc.

pub mod contents;
pub mod import;
pub mod onnx;
pub mod pickle;
pub mod pt_read;
pub mod pt_write;
pub mod tensorboard;
pub mod torch_code;
pub mod torch_globals;
pub mod torch_module;
