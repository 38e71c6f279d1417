//! The model `convlab train` uses without `--model`: a small CNN chosen from the input shape
//! and the number of outputs, written in the notation so the user can copy and edit it.

use crate::engine::{Dims, Rank};

/// The spec name that asks for [`spec_for`].
pub const AUTO: &str = "auto";

/// A small CNN for samples of shape `input` with `outputs` outputs: two conv blocks for images
/// of 20 pixels a side or more (as SimpleCNN), two with one pool for smaller ones (as the
/// digits preset, which it is for 1×8×8), one conv for tiny inputs; the same for signals.
pub fn spec_for(input: Dims, outputs: usize) -> String {
    let head = format!("flatten linear({outputs})");
    match input.rank {
        Rank::Flat => format!("linear({outputs})"),
        Rank::Image => match input.h.min(input.w) {
            20.. => format!("conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) {head}"),
            6.. => format!("conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu {head}"),
            _ => format!("conv2d(8,k=3,p=1) relu {head}"),
        },
        Rank::Signal => match input.w {
            16.. => format!("conv1d(16,k=5,p=2) relu maxpool1d(2) conv1d(32,k=5,p=2) relu maxpool1d(2) {head}"),
            4.. => format!("conv1d(8,k=3,p=1) relu {head}"),
            _ => format!("conv1d(8,k=1) relu {head}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{presets, Model};

    #[test]
    fn every_shape_gets_a_model_that_fits_it() {
        let shapes = [
            Dims::image(1, 28, 28),
            Dims::image(3, 32, 32),
            Dims::image(1, 11, 11),
            Dims::image(1, 8, 8),
            Dims::image(1, 5, 7),
            Dims::image(2, 1, 1),
            Dims::signal(1, 20),
            Dims::signal(2, 5),
            Dims::signal(3, 1),
            Dims::signal(1, 1000),
            Dims::flat(7),
        ];
        for input in shapes {
            for outputs in [1, 10] {
                let spec = spec_for(input, outputs);
                let m = Model::<f32>::new(&spec, input).unwrap_or_else(|e| panic!("{spec} on {input}: {e}"));
                assert_eq!(m.output().len(), outputs, "{spec}");
            }
        }
        // For the built-in digits it is the digits preset.
        assert_eq!(spec_for(Dims::image(1, 8, 8), 10), presets::find("digits").unwrap().spec);
    }
}
