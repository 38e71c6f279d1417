//! Colour maps and value normalisation.
//!
//! The maps reproduce matplotlib's so that pictures look like the ones in the
//! CNN tutorials they replace: `bwr` and `seismic` for signed weights (red =
//! positive, blue = negative), `gray` for images and `viridis` for counts.

/// An 8-bit RGB colour.
pub type Rgb = [u8; 3];

/// Colour shown for NaN values: magenta, which none of the maps contains.
pub const NAN_COLOR: Rgb = [255, 0, 255];

/// A colour map from `t` in `[0, 1]` to a colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    /// Blue (0,0,1) → white → red (1,0,0), linear (matplotlib's `bwr`).
    Bwr,
    /// Dark blue → blue → white → red → dark red (matplotlib's `seismic`).
    Seismic,
    /// Black → white.
    Gray,
    /// Perceptually uniform dark purple → yellow (matplotlib's `viridis`).
    Viridis,
}

/// matplotlib's `seismic` segment data: five evenly spaced stops.
const SEISMIC: [[f32; 3]; 5] = [[0.0, 0.0, 0.3], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.5, 0.0, 0.0]];

const BWR: [[f32; 3]; 3] = [[0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]];

impl Colormap {
    /// Colour for `t`; values outside `[0, 1]` are clamped, NaN gives [`NAN_COLOR`].
    pub fn map(self, t: f32) -> Rgb {
        if t.is_nan() {
            return NAN_COLOR;
        }
        let t = t.clamp(0.0, 1.0);
        match self {
            Colormap::Bwr => piecewise(&BWR, t),
            Colormap::Seismic => piecewise(&SEISMIC, t),
            Colormap::Gray => {
                let g = to_u8(t);
                [g, g, g]
            }
            Colormap::Viridis => VIRIDIS[((t * 256.0) as usize).min(255)],
        }
    }

    /// Parses a matplotlib-style name (`"bwr"`, `"seismic"`, `"gray"`/`"grey"`, `"viridis"`).
    pub fn from_name(name: &str) -> Option<Colormap> {
        match name.to_ascii_lowercase().as_str() {
            "bwr" => Some(Colormap::Bwr),
            "seismic" => Some(Colormap::Seismic),
            "gray" | "grey" => Some(Colormap::Gray),
            "viridis" => Some(Colormap::Viridis),
            _ => None,
        }
    }
}

fn to_u8(x: f32) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Linear interpolation between evenly spaced stops.
fn piecewise(stops: &[[f32; 3]], t: f32) -> Rgb {
    let seg = (stops.len() - 1) as f32;
    let pos = t * seg;
    let i = (pos.floor() as usize).min(stops.len() - 2);
    let f = pos - i as f32;
    let (a, b) = (stops[i], stops[i + 1]);
    [to_u8(a[0] + (b[0] - a[0]) * f), to_u8(a[1] + (b[1] - a[1]) * f), to_u8(a[2] + (b[2] - a[2]) * f)]
}

/// Maps data values to `[0, 1]` for a [`Colormap`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Norm {
    /// Diverging around zero: `t = 0.5 + v / (2 vmax)`, so 0 is the map's centre.
    Symmetric { vmax: f32 },
    /// Linear from `vmin` (t = 0) to `vmax` (t = 1).
    Linear { vmin: f32, vmax: f32 },
}

impl Norm {
    /// Symmetric norm with `vmax = max |v|` over the finite values.
    pub fn symmetric<'a>(values: impl IntoIterator<Item = &'a f32>) -> Norm {
        let vmax = values.into_iter().filter(|v| v.is_finite()).fold(0.0f32, |m, v| m.max(v.abs()));
        Norm::Symmetric { vmax }
    }

    /// Linear min–max norm over the finite values.
    pub fn min_max<'a>(values: impl IntoIterator<Item = &'a f32>) -> Norm {
        let (vmin, vmax) = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        if vmin > vmax {
            Norm::Linear { vmin: 0.0, vmax: 1.0 }
        } else {
            Norm::Linear { vmin, vmax }
        }
    }

    /// Position of `v` on the colour scale; 0.5 when the range is empty, NaN stays NaN.
    pub fn apply(&self, v: f32) -> f32 {
        if v.is_nan() {
            return f32::NAN;
        }
        let t = match *self {
            Norm::Symmetric { vmax } if vmax > 0.0 => 0.5 + v / (2.0 * vmax),
            Norm::Linear { vmin, vmax } if vmax > vmin => (v - vmin) / (vmax - vmin),
            _ => 0.5,
        };
        t.clamp(0.0, 1.0)
    }

    /// The value range `(low, high)` the scale spans, for colour bar labels.
    pub fn range(&self) -> (f32, f32) {
        match *self {
            Norm::Symmetric { vmax } => (-vmax, vmax),
            Norm::Linear { vmin, vmax } => (vmin, vmax),
        }
    }
}

/// How a figure chooses its [`Norm`]: computed from all its data, or fixed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// [`Norm::symmetric`] over every value in the figure.
    Symmetric,
    /// [`Norm::min_max`] over every value in the figure.
    MinMax,
    /// A caller-chosen norm (e.g. a percentile or a fixed range).
    Fixed(Norm),
}

impl Scale {
    /// The norm for a figure whose values are `values`.
    pub fn resolve<'a>(self, values: impl IntoIterator<Item = &'a f32>) -> Norm {
        match self {
            Scale::Symmetric => Norm::symmetric(values),
            Scale::MinMax => Norm::min_max(values),
            Scale::Fixed(n) => n,
        }
    }
}

/// matplotlib's `viridis`, 256 entries (the colour map is CC0), generated
/// from matplotlib 3.x and rounded to 8 bits.
#[rustfmt::skip]
const VIRIDIS: [Rgb; 256] = [
    [68, 1, 84], [68, 2, 86], [69, 4, 87], [69, 5, 89], [70, 7, 90], [70, 8, 92],
    [70, 10, 93], [70, 11, 94], [71, 13, 96], [71, 14, 97], [71, 16, 99], [71, 17, 100],
    [71, 19, 101], [72, 20, 103], [72, 22, 104], [72, 23, 105], [72, 24, 106], [72, 26, 108],
    [72, 27, 109], [72, 28, 110], [72, 29, 111], [72, 31, 112], [72, 32, 113], [72, 33, 115],
    [72, 35, 116], [72, 36, 117], [72, 37, 118], [72, 38, 119], [72, 40, 120], [72, 41, 121],
    [71, 42, 122], [71, 44, 122], [71, 45, 123], [71, 46, 124], [71, 47, 125], [70, 48, 126],
    [70, 50, 126], [70, 51, 127], [70, 52, 128], [69, 53, 129], [69, 55, 129], [69, 56, 130],
    [68, 57, 131], [68, 58, 131], [68, 59, 132], [67, 61, 132], [67, 62, 133], [66, 63, 133],
    [66, 64, 134], [66, 65, 134], [65, 66, 135], [65, 68, 135], [64, 69, 136], [64, 70, 136],
    [63, 71, 136], [63, 72, 137], [62, 73, 137], [62, 74, 137], [62, 76, 138], [61, 77, 138],
    [61, 78, 138], [60, 79, 138], [60, 80, 139], [59, 81, 139], [59, 82, 139], [58, 83, 139],
    [58, 84, 140], [57, 85, 140], [57, 86, 140], [56, 88, 140], [56, 89, 140], [55, 90, 140],
    [55, 91, 141], [54, 92, 141], [54, 93, 141], [53, 94, 141], [53, 95, 141], [52, 96, 141],
    [52, 97, 141], [51, 98, 141], [51, 99, 141], [50, 100, 142], [50, 101, 142], [49, 102, 142],
    [49, 103, 142], [49, 104, 142], [48, 105, 142], [48, 106, 142], [47, 107, 142], [47, 108, 142],
    [46, 109, 142], [46, 110, 142], [46, 111, 142], [45, 112, 142], [45, 113, 142], [44, 113, 142],
    [44, 114, 142], [44, 115, 142], [43, 116, 142], [43, 117, 142], [42, 118, 142], [42, 119, 142],
    [42, 120, 142], [41, 121, 142], [41, 122, 142], [41, 123, 142], [40, 124, 142], [40, 125, 142],
    [39, 126, 142], [39, 127, 142], [39, 128, 142], [38, 129, 142], [38, 130, 142], [38, 130, 142],
    [37, 131, 142], [37, 132, 142], [37, 133, 142], [36, 134, 142], [36, 135, 142], [35, 136, 142],
    [35, 137, 142], [35, 138, 141], [34, 139, 141], [34, 140, 141], [34, 141, 141], [33, 142, 141],
    [33, 143, 141], [33, 144, 141], [33, 145, 140], [32, 146, 140], [32, 146, 140], [32, 147, 140],
    [31, 148, 140], [31, 149, 139], [31, 150, 139], [31, 151, 139], [31, 152, 139], [31, 153, 138],
    [31, 154, 138], [30, 155, 138], [30, 156, 137], [30, 157, 137], [31, 158, 137], [31, 159, 136],
    [31, 160, 136], [31, 161, 136], [31, 161, 135], [31, 162, 135], [32, 163, 134], [32, 164, 134],
    [33, 165, 133], [33, 166, 133], [34, 167, 133], [34, 168, 132], [35, 169, 131], [36, 170, 131],
    [37, 171, 130], [37, 172, 130], [38, 173, 129], [39, 173, 129], [40, 174, 128], [41, 175, 127],
    [42, 176, 127], [44, 177, 126], [45, 178, 125], [46, 179, 124], [47, 180, 124], [49, 181, 123],
    [50, 182, 122], [52, 182, 121], [53, 183, 121], [55, 184, 120], [56, 185, 119], [58, 186, 118],
    [59, 187, 117], [61, 188, 116], [63, 188, 115], [64, 189, 114], [66, 190, 113], [68, 191, 112],
    [70, 192, 111], [72, 193, 110], [74, 193, 109], [76, 194, 108], [78, 195, 107], [80, 196, 106],
    [82, 197, 105], [84, 197, 104], [86, 198, 103], [88, 199, 101], [90, 200, 100], [92, 200, 99],
    [94, 201, 98], [96, 202, 96], [99, 203, 95], [101, 203, 94], [103, 204, 92], [105, 205, 91],
    [108, 205, 90], [110, 206, 88], [112, 207, 87], [115, 208, 86], [117, 208, 84], [119, 209, 83],
    [122, 209, 81], [124, 210, 80], [127, 211, 78], [129, 211, 77], [132, 212, 75], [134, 213, 73],
    [137, 213, 72], [139, 214, 70], [142, 214, 69], [144, 215, 67], [147, 215, 65], [149, 216, 64],
    [152, 216, 62], [155, 217, 60], [157, 217, 59], [160, 218, 57], [162, 218, 55], [165, 219, 54],
    [168, 219, 52], [170, 220, 50], [173, 220, 48], [176, 221, 47], [178, 221, 45], [181, 222, 43],
    [184, 222, 41], [186, 222, 40], [189, 223, 38], [192, 223, 37], [194, 223, 35], [197, 224, 33],
    [200, 224, 32], [202, 225, 31], [205, 225, 29], [208, 225, 28], [210, 226, 27], [213, 226, 26],
    [216, 226, 25], [218, 227, 25], [221, 227, 24], [223, 227, 24], [226, 228, 24], [229, 228, 25],
    [231, 228, 25], [234, 229, 26], [236, 229, 27], [239, 229, 28], [241, 229, 29], [244, 230, 30],
    [246, 230, 32], [248, 230, 33], [251, 231, 35], [253, 231, 37],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bwr_ends_and_centre() {
        assert_eq!(Colormap::Bwr.map(0.0), [0, 0, 255]);
        assert_eq!(Colormap::Bwr.map(0.5), [255, 255, 255]);
        assert_eq!(Colormap::Bwr.map(1.0), [255, 0, 0]);
        assert_eq!(Colormap::Bwr.map(0.25), [128, 128, 255]);
        assert_eq!(Colormap::Bwr.map(7.0), [255, 0, 0]);
        assert_eq!(Colormap::Bwr.map(f32::NAN), NAN_COLOR);
    }

    #[test]
    fn seismic_matches_matplotlib_stops() {
        assert_eq!(Colormap::Seismic.map(0.0), [0, 0, 77]);
        assert_eq!(Colormap::Seismic.map(0.25), [0, 0, 255]);
        assert_eq!(Colormap::Seismic.map(0.5), [255, 255, 255]);
        assert_eq!(Colormap::Seismic.map(0.75), [255, 0, 0]);
        assert_eq!(Colormap::Seismic.map(1.0), [128, 0, 0]);
    }

    #[test]
    fn viridis_and_gray_ends() {
        assert_eq!(Colormap::Viridis.map(0.0), [68, 1, 84]);
        assert_eq!(Colormap::Viridis.map(1.0), [253, 231, 37]);
        assert_eq!(Colormap::Gray.map(0.0), [0, 0, 0]);
        assert_eq!(Colormap::Gray.map(1.0), [255, 255, 255]);
    }

    #[test]
    fn norms() {
        let v = [-2.0, 0.5, 1.0, f32::NAN];
        let n = Norm::symmetric(&v);
        assert_eq!(n, Norm::Symmetric { vmax: 2.0 });
        assert_eq!(n.apply(0.0), 0.5);
        assert_eq!(n.apply(-2.0), 0.0);
        assert_eq!(n.apply(1.0), 0.75);
        assert!(n.apply(f32::NAN).is_nan());
        let m = Norm::min_max(&v);
        assert_eq!(m.apply(-2.0), 0.0);
        assert_eq!(m.apply(1.0), 1.0);
        assert_eq!(Norm::Symmetric { vmax: 0.0 }.apply(3.0), 0.5);
    }
}
