//! Loads a model file and saves a picture of its first layer's filters. Run:
//! `cargo run --release --example filters_picture -- runs/NAME/model.safetensors filters.png`.

use std::path::PathBuf;

fn main() -> convlab::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, out] = args.as_slice() else {
        eprintln!("usage: filters_picture MODEL.safetensors OUT.png|OUT.svg");
        std::process::exit(2);
    };
    let model = convlab::model::io::load(&PathBuf::from(model))?;
    // The first layer's kernels: blue negative, white zero, red positive.
    let first = convlab::inspect::filters::figures(&model, convlab::plot::Colormap::Bwr);
    let figure = first
        .into_iter()
        .next()
        .ok_or_else(|| convlab::Error::spec(format!("`{}` has no weights to draw", model.spec)))?;
    let out = PathBuf::from(out);
    figure.save(&out)?;
    println!("{}: {}", out.display(), model.spec);
    Ok(())
}
