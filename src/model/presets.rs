//! Named models from the tutorials, each with the input it was written for.

use crate::engine::Dims;
use crate::error::{Error, Result};

pub struct Preset {
    pub name: &'static str,
    pub spec: &'static str,
    /// Input shape as `C,H,W` or `C,L`.
    pub input: &'static str,
    pub about: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "pattern1d",
        spec: "conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)",
        input: "1,20",
        about: "the lab's 1-D [0,1,0] detector (tutorial 002, part 1)",
    },
    Preset {
        name: "mnist-lab",
        spec: "conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)",
        input: "1,28,28",
        about: "the lab's 2-D ConvNet for 28x28 digits (tutorial 002, part 2)",
    },
    Preset {
        name: "simplecnn",
        spec: "conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) flatten linear(32) relu linear(10)",
        input: "1,28,28",
        about: "SimpleCNN (tutorial 001)",
    },
    Preset {
        name: "lines",
        spec: "conv2d(2,k=2) relu maxpool2d(2,s=1) conv2d(1,k=2) relu maxpool2d(2,s=1) flatten linear(2)",
        input: "1,11,11",
        about: "the horizontal-vs-vertical lines CNN (tutorial 003)",
    },
    Preset {
        name: "sim1d",
        spec: "conv1d(4,k=3,p=1,bias=false) batchnorm1d relu dropout(0.25) flatten linear(1)",
        input: "2,5",
        about: "the simulation tutorial's fitted model (tutorial 000)",
    },
    Preset {
        name: "sim1d-linear",
        spec: "conv1d(4,k=3,p=1,bias=false) flatten linear(1)",
        input: "2,5",
        about: "the simulation tutorial's true, linear network (tutorial 000)",
    },
    Preset {
        name: "digits",
        spec: "conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu flatten linear(10)",
        input: "1,8,8",
        about: "a small CNN for scikit-learn's 8x8 digits (tutorial 004)",
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// A `--model` value: a preset name or a spec. Returns the spec and the preset's input shape.
pub fn resolve(model: &str) -> (String, Option<Dims>) {
    match find(model.trim()) {
        Some(p) => (p.spec.to_string(), Dims::parse(p.input).ok()),
        None => (model.to_string(), None),
    }
}

/// A spec or preset and its input shape: `input` (`C,H,W` or `C,L`) when given, else the
/// preset's own; a spec without an input shape is an error that says how to give one.
pub fn spec_and_input(model: &str, input: Option<&str>) -> Result<(String, Dims)> {
    let (spec, preset_input) = resolve(model);
    let input = match (input, preset_input) {
        (Some(text), _) => Dims::parse(text)?,
        (None, Some(d)) => d,
        (None, None) => {
            return Err(Error::config(format!(
                "give the input shape of `{model}` with --input C,H,W (or C,L); presets that know theirs: {}",
                names()
            )))
        }
    };
    Ok((spec, input))
}

pub fn names() -> String {
    PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::build_layers;

    #[test]
    fn every_preset_builds_for_its_input() {
        for p in PRESETS {
            let dims = Dims::parse(p.input).unwrap();
            build_layers(p.spec, dims).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }
}
