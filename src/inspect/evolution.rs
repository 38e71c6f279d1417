//! `plot evolution LAYER`: a conv layer's kernels over the epochs as a film strip, from the
//! snapshots training records with `--snapshot-every N`. Wide layers show a chosen (or, by
//! default, the first few) output and input channels, so each frame stays readable.

use crate::error::{Error, Result};
use crate::plot::{film_strip, Figure, Panel};
use crate::train::snapshots::{Snapshots, FILE};
use std::path::Path;

/// Output channels shown when none are chosen.
pub const DEFAULT_OUT: usize = 8;
/// Input channels shown when none is chosen.
pub const DEFAULT_IN: usize = 4;
/// Most output channels one frame can show readably.
const MAX_OUT: usize = 64;

/// Which kernels a frame shows: output channels (`None`: the first [`DEFAULT_OUT`]) and one
/// input channel (`None`: the first [`DEFAULT_IN`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Channels {
    pub out: Option<Vec<usize>>,
    pub input: Option<usize>,
}

/// Parses `--out-channels`: indices and ranges, e.g. `0-3,8`.
pub fn parse_out_channels(text: &str) -> Result<Vec<usize>> {
    let bad =
        || Error::config(format!("--out-channels `{text}`: give channel numbers and ranges, e.g. `0-3,8` (from 0)"));
    let mut out = vec![];
    for part in text.split(',').map(str::trim) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => {
                (a.trim().parse::<usize>().map_err(|_| bad())?, b.trim().parse::<usize>().map_err(|_| bad())?)
            }
            None => {
                let v = part.parse::<usize>().map_err(|_| bad())?;
                (v, v)
            }
        };
        if a > b {
            return Err(bad());
        }
        if b - a >= MAX_OUT || out.len() + b - a + 1 > MAX_OUT {
            return Err(Error::config(format!(
                "--out-channels `{text}` names more than {MAX_OUT} channels; a frame cannot show them readably, choose fewer"
            )));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// The chosen channels of one `o × c × kh × kw` frame: (outs, ins), checked against the layer.
fn resolve(ch: &Channels, o: usize, c: usize, name: &str) -> Result<(Vec<usize>, Vec<usize>)> {
    let outs = ch.out.clone().unwrap_or_else(|| (0..o.min(DEFAULT_OUT)).collect());
    if let Some(&bad) = outs.iter().find(|&&j| j >= o) {
        return Err(Error::config(format!(
            "--out-channels: layer {name} has {o} output channels (0..{}), not {bad}",
            o - 1
        )));
    }
    let ins = match ch.input {
        Some(i) if i >= c => {
            return Err(Error::config(format!("--in-channel {i}: layer {name} has {c} input channels (0..{})", c - 1)))
        }
        Some(i) => vec![i],
        None => (0..c.min(DEFAULT_IN)).collect(),
    };
    Ok((outs, ins))
}

/// "out 0–7 of 32, in 0–3 of 16" when only some channels are shown, else "".
fn shown(outs: &[usize], o: usize, ins: &[usize], c: usize) -> String {
    let list = |v: &[usize]| match v {
        [one] => one.to_string(),
        _ if v.windows(2).all(|w| w[1] == w[0] + 1) => format!("{}–{}", v[0], v[v.len() - 1]),
        _ => v.iter().map(usize::to_string).collect::<Vec<_>>().join(","),
    };
    let mut parts = vec![];
    if outs.len() < o || outs.iter().enumerate().any(|(k, &j)| k != j) {
        parts.push(format!("out {} of {o}", list(outs)));
    }
    if ins.len() < c {
        parts.push(format!("in {} of {c}", list(ins)));
    }
    parts.join(", ")
}

/// One frame: the chosen kernels of a `… × c × kh × kw` weight `v`.
fn frame(v: &[f32], (c, kh, kw): (usize, usize, usize), outs: &[usize], ins: &[usize]) -> Panel {
    // Each output channel's kernels (its inputs side by side) as a tile, one grey gap cell
    // (no data, unlike white zero) between kernels. One input: tiles in a grid about as
    // wide as tall with the fewest empty slots; several: a row per output channel, a
    // column per input, as `plot filters` draws them.
    let sep = usize::from(ins.len() > 1);
    let (tw, th) = (ins.len() * (kw + sep) - sep + 1, kh + 1);
    let n = outs.len();
    let cols = if sep == 1 { 1 } else { tile_columns(n, tw, th) };
    let rows = n.div_ceil(cols);
    let (width, height) = (cols * tw - 1, rows * th - 1);
    let mut block = vec![0f32; width * height];
    let mut gaps = vec![true; width * height];
    for (t, &oi) in outs.iter().enumerate() {
        let (r0, c0) = (t / cols * th, t % cols * tw);
        for (k, &ci) in ins.iter().enumerate() {
            for i in 0..kh {
                for j in 0..kw {
                    let at = (r0 + i) * width + c0 + k * (kw + sep) + j;
                    block[at] = v[((oi * c + ci) * kh + i) * kw + j];
                    gaps[at] = false;
                }
            }
        }
    }
    Panel::new("", height, width, block).with_gaps(gaps)
}

/// Columns of `n` tiles of `tw × th` cells: near a square grid, the fewest empty slots, then
/// the nearest to square, then the fewest columns, as frames line up side by side (8 square
/// tiles in 2 columns of 4, not 3 × 3 with a hole).
fn tile_columns(n: usize, tw: usize, th: usize) -> usize {
    let square = (((n * th) as f64 / tw.max(1) as f64).sqrt().ceil() as usize).clamp(1, n.max(1));
    (square.saturating_sub(1).max(1)..=(square + 1).min(n.max(1)))
        .min_by_key(|&c| (n.div_ceil(c) * c - n, c.abs_diff(square), c))
        .unwrap_or(square)
}

/// `layer` is the layer index (`0`) or tensor name (`0.weight`).
pub fn figure(run: &Path, layer: &str, channels: &Channels) -> Result<Figure> {
    let path = run.join(FILE);
    if !path.exists() {
        return Err(Error::model_file(format!(
            "{} has no kernel snapshots; train with --snapshot-every N to record them",
            run.display()
        )));
    }
    let snaps = Snapshots::load(&path)?;
    let name = if layer.contains('.') { layer.to_string() } else { format!("{layer}.weight") };
    // Snapshots hold every trainable tensor; only conv kernels make a film strip.
    let frames = if snaps.is_kernel(&name) { snaps.of(&name) } else { vec![] };
    if frames.is_empty() {
        let mut known: Vec<&str> = snaps.entries.iter().map(|e| e.1.as_str()).filter(|n| snaps.is_kernel(n)).collect();
        known.sort();
        known.dedup();
        return Err(Error::model_file(format!(
            "no kernel snapshots of layer `{layer}` (a conv layer's weight); recorded layers with kernels: {}",
            known.join(", ")
        )));
    }
    let mut note = String::new();
    let mut panels: Vec<Panel> = vec![];
    for (_, shape, v) in &frames {
        let (o, c, kh, kw) = match shape[..] {
            [o, c, kh, kw] => (o, c, kh, kw),
            [o, c, k] => (o, c, 1, k),
            _ => (1, 1, 1, v.len()),
        };
        if v.len() != o * c * kh * kw {
            return Err(Error::model_file(format!("{}: a snapshot of {name} has the wrong size", path.display())));
        }
        let (outs, ins) = resolve(channels, o, c, &name)?;
        note = shown(&outs, o, &ins, c);
        panels.push(frame(v, (c, kh, kw), &outs, &ins));
    }
    let labels: Vec<String> = frames.iter().map(|(e, _, _)| format!("epoch {e}")).collect();
    let title = if note.is_empty() {
        format!("layer {name} over training")
    } else {
        format!("layer {name} over training ({note}; choose with --out-channels, --in-channel)")
    };
    Ok(film_strip(&panels, &labels, &title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_channels_parse_lists_and_ranges() {
        assert_eq!(parse_out_channels("0-3,8").unwrap(), [0, 1, 2, 3, 8]);
        assert!(parse_out_channels("3-1").is_err());
        assert!(parse_out_channels("x").is_err());
        assert!(parse_out_channels("0-18446744073709551615").is_err());
    }

    #[test]
    fn wide_layers_show_the_first_channels_and_say_so() {
        let (outs, ins) = resolve(&Channels::default(), 32, 16, "3.weight").unwrap();
        assert_eq!((outs.len(), ins.len()), (DEFAULT_OUT, DEFAULT_IN));
        assert_eq!(shown(&outs, 32, &ins, 16), "out 0–7 of 32, in 0–3 of 16");
        let (outs, ins) = resolve(&Channels::default(), 4, 2, "0.weight").unwrap();
        assert_eq!(shown(&outs, 4, &ins, 2), "");
        assert!(resolve(&Channels { out: Some(vec![40]), input: None }, 32, 16, "3.weight").is_err());
        assert!(resolve(&Channels { out: None, input: Some(16) }, 32, 16, "3.weight").is_err());
    }

    #[test]
    fn kernels_tile_without_holes_and_several_inputs_get_a_gap_between_them() {
        // Eight 5×5 kernels of one input: 2 columns of 4 tiles, no empty slot.
        let one: Vec<f32> = (0..8 * 25).map(|v| v as f32).collect();
        let p = frame(&one, (1, 5, 5), &(0..8).collect::<Vec<_>>(), &[0]);
        assert_eq!((p.rows, p.cols), (4 * 6 - 1, 2 * 6 - 1));
        assert_eq!(p.gaps.iter().filter(|g| !**g).count(), 8 * 25, "every weight drawn once, no hole");
        // Two outputs of two 3×3 inputs: a row per output, a gap column between the inputs.
        let two: Vec<f32> = (0..2 * 2 * 9).map(|v| v as f32 + 1.0).collect();
        let p = frame(&two, (2, 3, 3), &[0, 1], &[0, 1]);
        assert_eq!((p.rows, p.cols), (7, 7));
        assert!((0..3).all(|i| p.gaps[i * 7 + 3]), "a gap column between input 0 and input 1");
        assert_eq!(p.values[4], 10.0, "input 1's first weight right of the gap");
        assert_eq!((tile_columns(8, 6, 6), tile_columns(9, 4, 4), tile_columns(1, 4, 4)), (2, 3, 1));
    }
}
