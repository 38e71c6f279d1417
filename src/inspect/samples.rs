//! `plot samples` (and `convlab data show`): a grid of data samples with their labels, chosen
//! by a seeded, stratified draw so that data sorted by class still shows every class.

use super::class_names;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::plot::{image_grid, wrap_columns, Colormap, Figure, ImagePanel};
use crate::rng::Rng;

/// The class of sample `i`: its label, or a whole-number target of a one-column set (0/1).
fn class_of(ds: &Dataset, i: usize) -> Option<u32> {
    match &ds.targets {
        Targets::Classes { labels, .. } => labels.get(i).copied(),
        Targets::Values { values, width: 1 } => {
            let v = *values.get(i)?;
            (v.fract() == 0.0 && (0.0..1e6).contains(&v)).then_some(v as u32)
        }
        Targets::Values { .. } => None,
    }
}

/// `n` sample indices drawn with `seed`: classes take turns (each class's samples shuffled), so
/// a set sorted by class is not shown as its first class only; without classes, a shuffle.
pub fn pick(ds: &Dataset, n: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let n = n.min(ds.len());
    let classes: Option<Vec<u32>> = (0..ds.len()).map(|i| class_of(ds, i)).collect();
    let Some(classes) = classes else {
        let mut all: Vec<usize> = (0..ds.len()).collect();
        rng.shuffle(&mut all);
        all.truncate(n);
        return all;
    };
    let k = classes.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut by_class: Vec<Vec<usize>> = vec![vec![]; k];
    for (i, &c) in classes.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    for members in &mut by_class {
        rng.shuffle(members);
        members.reverse(); // popped from the end below
    }
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        for members in &mut by_class {
            if out.len() < n {
                if let Some(i) = members.pop() {
                    out.push(i);
                }
            }
        }
    }
    out
}

/// `y=` and the class (its name when the data has names), or the target values.
pub fn label(ds: &Dataset, i: usize) -> String {
    let names = class_names(ds);
    if let Some(c) = class_of(ds, i) {
        let named = ds.class_names.as_ref().and_then(|n| n.get(c as usize)).or(names.get(c as usize));
        return format!("y={}", named.cloned().unwrap_or(c.to_string()));
    }
    match &ds.targets {
        Targets::Values { values, width } => format!(
            "y={}",
            values[i * width..(i + 1) * width].iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(",")
        ),
        Targets::Classes { labels, .. } => format!("y={}", labels[i]),
    }
}

/// One drawable panel per sample: (C, H, W) images, (C, L) signals as C rows, (F) vectors.
pub fn panel(ds: &Dataset, i: usize, label: String) -> Result<ImagePanel> {
    let (c, h, w) = match ds.sample_shape[..] {
        [c, h, w] => (c, h, w),
        [c, l] => (c, 1, l),
        [f] => (1, 1, f),
        _ => {
            return Err(Error::data(format!(
                "{}: samples of shape {:?} cannot be drawn; only images (C, H, W), signals (C, L) and vectors (F) can",
                ds.name, ds.sample_shape
            )))
        }
    };
    Ok(ImagePanel { label, height: h, width: w, channels: c, values: ds.sample(i).to_vec() })
}

pub fn figure(ds: &Dataset, count: usize, seed: u64) -> Result<Figure> {
    let picked = pick(ds, count, seed);
    if picked.is_empty() {
        return Err(Error::data(format!("{} has no samples", ds.name)));
    }
    let panels = picked.iter().map(|&i| panel(ds, i, label(ds, i))).collect::<Result<Vec<_>>>()?;
    let n = panels.len();
    let slot = (ds.sample_shape.last().copied().unwrap_or(1) as f32 * 6.0).clamp(60.0, 160.0);
    // Up to 10 a row, so the default 50 fill 5 rows of 10 (8 a row left 2 on a seventh).
    let cols = wrap_columns(n, slot, 10);
    let how = if class_of(ds, 0).is_some() { "classes in turn" } else { "at random" };
    let title = format!("{n} samples of {} (seed {seed}, {how})", ds.name);
    Ok(image_grid(&panels, cols, Colormap::Gray, &title))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, x: Vec<f32>, targets: Targets) -> Dataset {
        Dataset { name: name.into(), x: x.into(), sample_shape: vec![1, 2], targets, class_names: None }
    }

    fn sorted_set() -> Dataset {
        // 6 of class 0 then 6 of class 1, as the lines set is ordered.
        let labels: Vec<u32> = (0..12).map(|i| u32::from(i >= 6)).collect();
        set("sorted", (0..24).map(|v| v as f32).collect(), Targets::Classes { labels, num_classes: 2 })
    }

    #[test]
    fn sorted_data_shows_every_class_and_the_seed_matters() {
        let ds = sorted_set();
        let a = pick(&ds, 4, 0);
        let classes: Vec<u32> = a.iter().map(|&i| class_of(&ds, i).unwrap()).collect();
        assert_eq!(classes, [0, 1, 0, 1]);
        assert_eq!(a, pick(&ds, 4, 0));
        assert!((0..20).any(|s| pick(&ds, 4, s) != a));
        assert_eq!(pick(&ds, 100, 3).len(), 12);
    }

    #[test]
    fn whole_number_targets_are_classes() {
        let ds = set("bin", vec![0.0; 4], Targets::Values { values: vec![0.0, 1.0], width: 1 });
        assert_eq!(label(&ds, 1), "y=1");
        let reg = set("reg", vec![0.0; 4], Targets::Values { values: vec![0.5, 1.25], width: 1 });
        assert_eq!(label(&reg, 1), "y=1.25");
    }

    #[test]
    fn the_default_fifty_samples_fill_five_rows_of_ten() {
        // 64 images of 8×8, two classes: the figure shows 50 in 5 full rows.
        let labels: Vec<u32> = (0..64).map(|i| i % 2).collect();
        let ds = Dataset {
            name: "grid".into(),
            x: vec![0.5; 64 * 64].into(),
            sample_shape: vec![1, 8, 8],
            targets: Targets::Classes { labels, num_classes: 2 },
            class_names: None,
        };
        let fig = figure(&ds, 50, 0).unwrap();
        let mut tops: Vec<i64> = vec![];
        for op in fig.ops() {
            if let crate::plot::figure::Op::Image(_, y, ..) = op {
                tops.push(y.round() as i64);
            }
        }
        assert_eq!(tops.len(), 50);
        let mut rows = tops.clone();
        rows.dedup();
        assert_eq!(rows.len(), 5, "rows at {rows:?}");
        assert!(rows.iter().all(|r| tops.iter().filter(|t| *t == r).count() == 10));
    }
}
