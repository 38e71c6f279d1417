//! Grad-CAM (Selvaraju et al. 2017), as `tests/fixtures/README.md` defines it for the
//! `explain` fixtures: on the output A of one layer, `weights[k] = mean over positions of
//! ∂s/∂A[k]` and `cam = relu(Σ_k weights[k] · A[k])`, at A's resolution. The picture draws it
//! upsampled to the input (bilinear, as `F.interpolate(mode="bilinear")`).

use super::channels_and_positions;
use super::gradient::backprop;
use crate::engine::Rank;
use crate::error::{Error, Result};
use crate::layers::Layer;
use crate::model::Model;

/// A layer whose output has positions to point at: 1-D or 2-D with more than one position.
fn is_spatial(l: &Layer) -> bool {
    l.output.rank != Rank::Flat && l.output.h * l.output.w > 1
}

fn spatial_layers(model: &Model<f32>) -> Vec<String> {
    let layers = model.layers.iter().enumerate().filter(|(_, l)| is_spatial(l));
    layers.map(|(i, l)| format!("{i} {} → {}", l.text, l.output)).collect()
}

/// The last layer whose output is spatial.
pub fn default_layer(model: &Model<f32>) -> Result<usize> {
    model.layers.iter().rposition(is_spatial).ok_or_else(|| {
        Error::config(format!(
            "`{}` has no layer with a spatial output for Grad-CAM; explain it with gradient, saliency or occlusion",
            model.spec
        ))
    })
}

/// `layer` if it exists and is spatial, else a message listing the layers that are.
pub fn check_layer(model: &Model<f32>, layer: usize) -> Result<usize> {
    let valid = spatial_layers(model);
    let list = if valid.is_empty() { "none".to_string() } else { valid.join("; ") };
    match model.layers.get(layer) {
        None => Err(Error::config(format!(
            "--layer {layer} is beyond the model's {} layers (counted from 0 as nn.Sequential does); Grad-CAM's layers: {list}",
            model.layers.len()
        ))),
        Some(l) if !is_spatial(l) => Err(Error::config(format!(
            "--layer {layer} ({} → {}) has no spatial output; Grad-CAM's layers: {list}",
            l.text, l.output
        ))),
        Some(_) => Ok(layer),
    }
}

pub struct GradCam {
    /// At the layer's resolution (its positions).
    pub map: Vec<f32>,
    /// One per channel of the layer's output.
    pub weights: Vec<f32>,
}

pub fn gradcam(model: &Model<f32>, x: &[f32], target: usize, layer: usize) -> GradCam {
    let (a, g) = backprop(model, x, target, Some(layer)).layer.expect("asked for the layer");
    let (c, p) = channels_and_positions(model.layers[layer].output);
    // Summed in f64, as the mean is one number per channel.
    let weights: Vec<f32> =
        g.chunks_exact(p).map(|gk| (gk.iter().map(|&v| v as f64).sum::<f64>() / p as f64) as f32).collect();
    let map = (0..p)
        .map(|i| {
            let s: f64 = (0..c).map(|k| weights[k] as f64 * a[k * p + i] as f64).sum();
            s.max(0.0) as f32
        })
        .collect();
    GradCam { map, weights }
}

/// Bilinear resampling of an `h × w` map to `out_h × out_w`, as PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)` (`h = 1` gives linear along rows).
pub fn upsample_bilinear(map: &[f32], (h, w): (usize, usize), (out_h, out_w): (usize, usize)) -> Vec<f32> {
    let taps = |n_in: usize, n_out: usize| -> Vec<(usize, usize, f32)> {
        let scale = n_in as f32 / n_out as f32;
        (0..n_out)
            .map(|d| {
                let src = ((d as f32 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (src as usize).min(n_in - 1);
                let i1 = (i0 + 1).min(n_in - 1);
                (i0, i1, src - i0 as f32)
            })
            .collect()
    };
    let (rows, cols) = (taps(h, out_h), taps(w, out_w));
    let mut out = Vec::with_capacity(out_h * out_w);
    for &(r0, r1, fr) in &rows {
        for &(c0, c1, fc) in &cols {
            let at = |r: usize, c: usize| map[r * w + c];
            let top = at(r0, c0) * (1.0 - fc) + at(r0, c1) * fc;
            let bottom = at(r1, c0) * (1.0 - fc) + at(r1, c1) * fc;
            out.push(top * (1.0 - fr) + bottom * fr);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dims;

    #[test]
    fn bilinear_upsampling_matches_pytorch() {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode="bilinear")
        let up = upsample_bilinear(&[1.0, 2.0, 3.0, 4.0], (2, 2), (4, 4));
        let want = [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0];
        assert_eq!(up, want);
        // The same size is the identity; one value spreads everywhere.
        assert_eq!(upsample_bilinear(&[1.0, 5.0, 2.0], (1, 3), (1, 3)), [1.0, 5.0, 2.0]);
        assert_eq!(upsample_bilinear(&[7.0], (1, 1), (2, 3)), [7.0; 6]);
    }

    #[test]
    fn the_default_layer_is_the_last_spatial_one_and_others_are_refused() {
        let spec = "conv2d(4,k=3) batchnorm2d relu conv2d(5,k=3,s=2) relu adaptiveavgpool2d(1) flatten linear(3)";
        let model = Model::<f32>::new(spec, Dims::image(3, 12, 12)).unwrap();
        assert_eq!(default_layer(&model).unwrap(), 4);
        assert_eq!(check_layer(&model, 0).unwrap(), 0);
        let e = check_layer(&model, 5).unwrap_err().to_string();
        assert!(e.contains("--layer 5") && e.contains("4 relu → 5×4×4"), "{e}");
        assert!(check_layer(&model, 8).unwrap_err().to_string().contains("beyond the model's 8 layers"));
        let flat = Model::<f32>::new("flatten linear(2)", Dims::image(1, 3, 3)).unwrap();
        assert!(default_layer(&flat).unwrap_err().to_string().contains("no layer with a spatial output"));
    }
}
