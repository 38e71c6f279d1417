//! `convlab summary SPEC|PRESET --input C,H,W`

use crate::engine::Dims;
use crate::model::{presets, summary::summary, Model};

#[derive(clap::Args)]
pub struct Args {
    /// A model spec such as 'conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)', or a preset name
    model: String,
    /// Input shape of one sample: C,H,W for images, C,L for 1-D signals (presets have their own)
    #[arg(long)]
    input: Option<String>,
}

pub fn run(a: Args) -> crate::Result<i32> {
    let (spec, preset_input) = presets::resolve(&a.model);
    let input = match (&a.input, preset_input) {
        (Some(text), _) => Dims::parse(text)?,
        (None, Some(d)) => d,
        (None, None) => {
            return Err(crate::Error::config(format!(
                "give the input shape with --input C,H,W (or C,L); presets that know theirs: {}",
                presets::names()
            )))
        }
    };
    let model = Model::<f32>::new(&spec, input)?;
    print!("{}", summary(&model));
    Ok(0)
}
