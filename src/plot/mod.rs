//! Dependency-light plotting for CNN lectures: heatmaps of weights, named
//! tensors, image grids, confusion matrices, training curves and scatter
//! plots, written as PNG or SVG with an embedded font.
//!
//! Build a [`Figure`] with one of the builders re-exported here ([`heatmap_grid`],
//! [`line_chart`], [`scatter`], ...), then [`Figure::save`] it; the file extension picks the
//! format.

pub mod canvas;
mod charts;
pub mod colormap;
pub mod figure;
mod figures;
mod font;
pub(crate) mod parts;
pub mod svg;

pub use canvas::{Canvas, Surface};
pub use charts::{line_chart, line_chart_with, scatter, ChartOptions, Series, YAxis};
pub use colormap::{Colormap, Norm, Scale};
pub use figure::Figure;
pub use figures::{
    confusion_matrix, film_strip, heatmap_grid, image_grid, image_grid_on, kernel_grid, named_tensors,
    named_tensors_grouped, plural, weight_grid, weight_matrix, wrap_columns, ImagePanel, Panel, GAP_COLOUR,
};
