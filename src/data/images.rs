//! `images:DIR`: a folder of PNG/JPEG images with one sub-folder per class.
//!
//! Class names are the sub-folder names in sorted order, so the class indices do not depend on
//! the file system's listing order. All images must have the same size (the network's input is
//! fixed). Grey images give 1 channel; if any image is in colour, all give 3 (RGB; grey ones
//! repeated), and alpha is dropped. Pixels are scaled to [0, 1].

use std::io::Cursor;
use std::path::{Path, PathBuf};

use super::dataset::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::fs::read_file;

/// A decoded image: 8-bit grey (1 channel) or RGB (3 channels), row-major, interleaved.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Image {
    /// Planar C×H×W values in [0, 1] from the interleaved bytes; a grey image asked for 3
    /// channels repeats its one channel.
    pub fn to_planar(&self, channels: usize) -> Vec<f32> {
        let plane = self.width * self.height;
        let mut out = vec![0f32; channels * plane];
        for c in 0..channels {
            let src = if self.channels == 1 { 0 } else { c.min(self.channels - 1) };
            for p in 0..plane {
                out[c * plane + p] = self.pixels[p * self.channels + src] as f32 / 255.0;
            }
        }
        out
    }
}

/// The file extensions taken as images (case-insensitive).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

fn is_image_name(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn hidden(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

/// Decodes a PNG or JPEG (told apart by content). `name` is used in messages.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<Image> {
    decode_image_sized(bytes, name, None)
}

/// The size `(width, height)` an image must have, and what to say when it has another: the
/// header's claim is checked against it (and against the image limit) before decoding.
pub type Expected<'a> = Option<(usize, usize, &'a dyn Fn(usize, usize) -> Error)>;

/// [`decode_image`], refusing from the header alone an image larger than
/// [`super::limits::max_image_pixels`] or of another size than `expected`.
pub fn decode_image_sized(bytes: &[u8], name: &str, expected: Expected) -> Result<Image> {
    let check = |w: u32, h: u32| -> Result<()> {
        if let Some((ew, eh, wrong)) = expected {
            if (w as usize, h as usize) != (ew, eh) {
                return Err(wrong(w as usize, h as usize));
            }
        }
        super::limits::check_image_pixels(name, w as u64, h as u64)
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes, name, &check)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes, name, &check)
    } else {
        Err(Error::data(format!(
            "{name}: neither a PNG nor a JPEG image (by its content); convert it or remove it \
             from the folder"
        )))
    }
}

fn decode_png(bytes: &[u8], name: &str, check: &dyn Fn(u32, u32) -> Result<()>) -> Result<Image> {
    let bad = |e: png::DecodingError| {
        Error::data(format!("{name}: cannot decode PNG ({e}); the file is damaged: re-save or remove it"))
    };
    // The decoder's own allocations (ancillary chunks, buffers) bounded too: 8 bytes a pixel of
    // the largest image allowed, at least png's default 64 MiB.
    let bytes_limit = super::limits::max_image_pixels()?.saturating_mul(8).max(64 << 20);
    let limits = png::Limits { bytes: usize::try_from(bytes_limit).unwrap_or(usize::MAX) };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    // Palette → RGB, low bit depths → 8 bits, 16 bits → 8 bits: always 8-bit samples.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(bad)?;
    check(reader.info().width, reader.info().height)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Error::data(format!("{name}: PNG dimensions too large for memory; use a smaller image")))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(bad)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let (src_channels, keep) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => {
            return Err(Error::data(format!("{name}: palette PNG was not expanded; re-save it as RGB or greyscale")))
        }
    };
    if info.line_size < w * src_channels || buf.len() < info.line_size * h {
        return Err(Error::data(format!("{name}: PNG decoded to an unexpected size; re-save it")));
    }
    let mut pixels = Vec::with_capacity(w * h * keep);
    for row in buf.chunks(info.line_size).take(h) {
        for px in row[..w * src_channels].chunks_exact(src_channels) {
            pixels.extend_from_slice(&px[..keep]);
        }
    }
    Ok(Image { width: w, height: h, channels: keep, pixels })
}

fn decode_jpeg(bytes: &[u8], name: &str, check: &dyn Fn(u32, u32) -> Result<()>) -> Result<Image> {
    let bad = |e: jpeg_decoder::Error| {
        Error::data(format!(
            "{name}: cannot decode JPEG ({e}); the file is damaged or an unusual JPEG: re-save \
             it as a baseline JPEG or PNG, or remove it"
        ))
    };
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(bad)?;
    let head = decoder.info().ok_or_else(|| Error::data(format!("{name}: JPEG has no image data; remove it")))?;
    check(head.width as u32, head.height as u32)?;
    let max = super::limits::max_image_pixels()?.saturating_mul(8);
    decoder.set_max_decoding_buffer_size(usize::try_from(max).unwrap_or(usize::MAX));
    let data = decoder.decode().map_err(bad)?;
    let info = decoder.info().ok_or_else(|| Error::data(format!("{name}: JPEG has no image data; remove it")))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let (channels, pixels) = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => (1, data),
        jpeg_decoder::PixelFormat::L16 => {
            (1, data.chunks_exact(2).map(|c| (u16::from_ne_bytes([c[0], c[1]]) >> 8) as u8).collect())
        }
        jpeg_decoder::PixelFormat::RGB24 => (3, data),
        jpeg_decoder::PixelFormat::CMYK32 => {
            return Err(Error::data(format!("{name}: CMYK JPEG is not supported; convert it to RGB")))
        }
    };
    if pixels.len() != w * h * channels {
        return Err(Error::data(format!("{name}: JPEG decoded to an unexpected size; re-save it")));
    }
    Ok(Image { width: w, height: h, channels, pixels })
}

/// Sorted entries of `dir` that pass `keep`.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?;
    let mut v = Vec::new();
    for entry in rd {
        let p = entry.map_err(|e| Error::read(dir, e))?.path();
        if !hidden(&p) && keep(&p) {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// Loads `DIR/<class>/<image>` into a data set named after `DIR`.
pub fn load_image_folder(dir: &Path) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(Error::data(format!(
            "{}: no such directory; images:DIR needs a directory with one sub-folder of PNG/JPEG \
             images per class",
            dir.display()
        )));
    }
    let classes = sorted_entries(dir, |p| p.is_dir())?;
    if classes.is_empty() {
        return Err(Error::data(format!(
            "{}: has no class sub-folders; put each class's images in its own folder, e.g. \
             {0}/cat/1.png and {0}/dog/1.png",
            dir.display()
        )));
    }
    if classes.len() < 2 {
        return Err(Error::data(format!(
            "{}: has only one class sub-folder ({}), and a classifier of one class is right \
             every time without learning anything; add a folder per class (at least two), e.g. \
             {0}/cat/ and {0}/dog/",
            dir.display(),
            classes[0].file_name().unwrap_or_default().to_string_lossy()
        )));
    }
    let mut images: Vec<(PathBuf, Image)> = Vec::new();
    let mut labels = Vec::new();
    let mut class_names = Vec::new();
    for (class, cdir) in classes.iter().enumerate() {
        let files = sorted_entries(cdir, |p| p.is_file() && is_image_name(p))?;
        if files.is_empty() {
            return Err(Error::data(format!(
                "{}: holds no .png/.jpg/.jpeg images, so its class would have no examples; add \
                 images or remove the folder",
                cdir.display()
            )));
        }
        for f in files {
            let name = f.display().to_string();
            let bytes = read_file(&f)?;
            // Every image after the first is checked against its size from the header alone.
            let img = match images.first() {
                None => decode_image(&bytes, &name)?,
                Some((first, i0)) => {
                    let wrong = |w: usize, h: usize| {
                        Error::data(format!(
                            "{name}: is {w}x{h} but {} (the first image) is {}x{}; all images \
                             must have the same size: resize them",
                            first.display(),
                            i0.width,
                            i0.height
                        ))
                    };
                    decode_image_sized(&bytes, &name, Some((i0.width, i0.height, &wrong)))?
                }
            };
            images.push((f, img));
            labels.push(class as u32);
        }
        class_names.push(cdir.file_name().unwrap_or_default().to_string_lossy().into_owned());
    }
    let (w, h) = (images[0].1.width, images[0].1.height);
    let channels = if images.iter().any(|(_, i)| i.channels == 3) { 3 } else { 1 };
    super::limits::check_data_bytes(
        &format!("{}: {} images of {channels}x{h}x{w} as 32-bit floats", dir.display(), images.len()),
        super::limits::product(&[images.len() as u64, channels as u64, h as u64, w as u64, 4]),
    )?;
    let mut x = Vec::with_capacity(images.len() * channels * w * h);
    for (_, img) in &images {
        x.extend(img.to_planar(channels));
    }
    Ok(Dataset {
        name: dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string()),
        x: x.into(),
        sample_shape: vec![channels, h, w],
        targets: Targets::Classes { labels, num_classes: class_names.len() },
        class_names: Some(class_names),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x2 RGB JPEG, colour (200, 40, 10), written by Pillow (decodes to 199, 40, 10).
    const JPEG_RGB: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02,
        0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03, 0x04, 0x06, 0x05, 0x06,
        0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08,
        0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff,
        0xdb, 0x00, 0x43, 0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x05, 0x03, 0x03, 0x05, 0x0a, 0x07, 0x06, 0x07,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0xff, 0xc0, 0x00, 0x11,
        0x08, 0x00, 0x02, 0x00, 0x03, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x00,
        0x1f, 0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x10, 0x00,
        0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00, 0x00, 0x01, 0x7d, 0x01, 0x02, 0x03,
        0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81,
        0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a,
        0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86,
        0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
        0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6,
        0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5,
        0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xc4, 0x00,
        0x1f, 0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x11, 0x00,
        0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01, 0x02, 0x77, 0x00, 0x01, 0x02,
        0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08,
        0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24,
        0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39,
        0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84,
        0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4,
        0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4,
        0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4,
        0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xda, 0x00,
        0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00, 0xf9, 0x3e, 0x8a, 0x28, 0xaf, 0xe5, 0x73,
        0xfd, 0x48, 0x3f, 0xff, 0xd9,
    ];

    /// A 3x2 greyscale JPEG, value 128, written by Pillow.
    const JPEG_GREY: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x02,
        0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04, 0x04, 0x03, 0x04, 0x06, 0x05, 0x06,
        0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06, 0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08,
        0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08, 0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff,
        0xc0, 0x00, 0x0b, 0x08, 0x00, 0x02, 0x00, 0x03, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x1f, 0x00, 0x00,
        0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02,
        0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0xff, 0xc4, 0x00, 0xb5, 0x10, 0x00, 0x02, 0x01, 0x03,
        0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00, 0x00, 0x01, 0x7d, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11,
        0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08,
        0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18,
        0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
        0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
        0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9,
        0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
        0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01,
        0x00, 0x00, 0x3f, 0x00, 0x2b, 0xff, 0xd9,
    ];

    fn png_bytes(w: u32, h: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("convlab-img-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn put(dir: &Path, rel: &str, bytes: &[u8]) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    #[test]
    fn grey_folder() {
        let d = tmp("grey");
        let g = |v: u8| png_bytes(2, 2, png::ColorType::Grayscale, &[v, v, v, 255]);
        put(&d, "b_dog/2.png", &g(10));
        put(&d, "b_dog/1.PNG", &g(20));
        put(&d, "a_cat/x.png", &g(30));
        put(&d, "a_cat/notes.txt", b"ignored");
        put(&d, "a_cat/.hidden.png", b"ignored");
        put(&d, "README.md", b"ignored");
        let ds = load_image_folder(&d).unwrap();
        assert_eq!(ds.sample_shape, vec![1, 2, 2]);
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.class_names, Some(vec!["a_cat".to_string(), "b_dog".to_string()]));
        assert_eq!(ds.targets, Targets::Classes { labels: vec![0, 1, 1], num_classes: 2 });
        // Sorted file order within a class: 1.PNG (20) before 2.png (10).
        assert_eq!(ds.sample(1), &[20.0 / 255.0, 20.0 / 255.0, 20.0 / 255.0, 1.0]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn colour_alpha_dropped_and_grey_promoted() {
        let d = tmp("colour");
        let rgba = [1, 2, 3, 9, 4, 5, 6, 9];
        put(&d, "a/rgba.png", &png_bytes(2, 1, png::ColorType::Rgba, &rgba));
        put(&d, "b/grey.png", &png_bytes(2, 1, png::ColorType::GrayscaleAlpha, &[7, 0, 8, 0]));
        let ds = load_image_folder(&d).unwrap();
        assert_eq!(ds.sample_shape, vec![3, 1, 2]);
        let s = |v: &[u8]| v.iter().map(|&b| b as f32 / 255.0).collect::<Vec<_>>();
        // Planar: R plane, G plane, B plane.
        assert_eq!(ds.sample(0), &s(&[1, 4, 2, 5, 3, 6])[..]);
        assert_eq!(ds.sample(1), &s(&[7, 8, 7, 8, 7, 8])[..]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn jpegs() {
        let c = decode_image(JPEG_RGB, "c.jpg").unwrap();
        assert_eq!((c.width, c.height, c.channels), (3, 2, 3));
        assert!(c.pixels[..3].iter().zip([200, 40, 10]).all(|(&a, b)| a.abs_diff(b) <= 2));
        let g = decode_image(JPEG_GREY, "g.jpg").unwrap();
        assert_eq!((g.width, g.height, g.channels), (3, 2, 1));
        assert!(g.pixels.iter().all(|&p| p.abs_diff(128) <= 1));

        let d = tmp("jpeg");
        put(&d, "x/a.jpg", JPEG_RGB);
        put(&d, "y/b.jpeg", JPEG_GREY);
        let ds = load_image_folder(&d).unwrap();
        assert_eq!(ds.sample_shape, vec![3, 2, 3]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn size_mismatch_names_the_odd_one() {
        let d = tmp("size");
        put(&d, "a/1.png", &png_bytes(2, 2, png::ColorType::Grayscale, &[0; 4]));
        put(&d, "b/odd.png", &png_bytes(3, 2, png::ColorType::Grayscale, &[0; 6]));
        let e = load_image_folder(&d).unwrap_err().to_string();
        assert!(e.contains("odd.png: is 3x2 but"), "{e}");
        assert!(e.contains("1.png (the first image) is 2x2"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    /// A PNG whose IHDR claims `w`×`h` (the CRC fixed), whatever its data.
    fn claim_png(png: &[u8], w: u32, h: u32) -> Vec<u8> {
        let mut b = png.to_vec();
        b[16..20].copy_from_slice(&w.to_be_bytes());
        b[20..24].copy_from_slice(&h.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&b[12..29]);
        b[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        b
    }

    /// A JPEG whose frame header claims `w`×`h`.
    fn claim_jpeg(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
        let mut b = jpeg.to_vec();
        let sof = b.windows(2).position(|m| m[0] == 0xFF && matches!(m[1], 0xC0..=0xC2)).unwrap();
        b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        b
    }

    #[test]
    fn huge_claimed_images_are_refused_from_the_header() {
        let png = claim_png(&png_bytes(1, 1, png::ColorType::Grayscale, &[0]), 65535, 65535);
        let e = decode_image(&png, "big.png").unwrap_err().to_string();
        assert!(e.contains("65535x65535") && e.contains("CONVLAB_MAX_IMAGE_PIXELS"), "{e}");
        let jpg = claim_jpeg(JPEG_RGB, 65535, 65535);
        let e = decode_image(&jpg, "big.jpg").unwrap_err().to_string();
        assert!(e.contains("65535x65535") && e.contains("CONVLAB_MAX_IMAGE_PIXELS"), "{e}");
        // In a folder, an image of the wrong size is refused by its header, before decoding.
        let d = tmp("claim");
        put(&d, "a/1.png", &png_bytes(2, 2, png::ColorType::Grayscale, &[0; 4]));
        put(&d, "b/2.png", &claim_png(&png_bytes(2, 2, png::ColorType::Grayscale, &[0; 4]), 30000, 30000));
        let e = load_image_folder(&d).unwrap_err().to_string();
        assert!(e.contains("2.png: is 30000x30000 but"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn one_class_is_refused() {
        let d = tmp("oneclass");
        put(&d, "cat/1.png", &png_bytes(1, 1, png::ColorType::Grayscale, &[0]));
        let e = load_image_folder(&d).unwrap_err().to_string();
        assert!(e.contains("only one class sub-folder (cat)") && e.contains("at least two"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn empty_folders() {
        let d = tmp("empty");
        let e = load_image_folder(&d).unwrap_err().to_string();
        assert!(e.contains("has no class sub-folders"), "{e}");
        put(&d, "a/1.png", &png_bytes(1, 1, png::ColorType::Grayscale, &[0]));
        put(&d, "c/1.png", &png_bytes(1, 1, png::ColorType::Grayscale, &[0]));
        std::fs::create_dir_all(d.join("b")).unwrap();
        let e = load_image_folder(&d).unwrap_err().to_string();
        assert!(e.contains("holds no .png/.jpg/.jpeg images"), "{e}");
        let e = load_image_folder(&d.join("nope")).unwrap_err().to_string();
        assert!(e.contains("no such directory"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn corrupt_files() {
        let good = png_bytes(4, 4, png::ColorType::Rgb, &[9; 48]);
        let e = decode_image(&good[..good.len() - 20], "t.png").unwrap_err().to_string();
        assert!(e.contains("t.png: cannot decode PNG"), "{e}");
        let e = decode_image(&JPEG_RGB[..100], "t.jpg").unwrap_err().to_string();
        assert!(e.contains("t.jpg: cannot decode JPEG"), "{e}");
        let e = decode_image(b"GIF89a....", "t.gif").unwrap_err().to_string();
        assert!(e.contains("neither a PNG nor a JPEG"), "{e}");

        let d = tmp("corrupt");
        put(&d, "a/bad.png", b"\x89PNG\r\n\x1a\nrubbish");
        put(&d, "b/bad.png", b"\x89PNG\r\n\x1a\nrubbish");
        let e = load_image_folder(&d).unwrap_err().to_string();
        assert!(e.contains("bad.png"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    /// Truncated and bit-flipped images give errors, never panics.
    #[test]
    fn no_panic_on_mangled_input() {
        use crate::rng::SplitMix64;
        let mut rng = SplitMix64::new(9);
        let png = png_bytes(5, 4, png::ColorType::Rgba, &[100; 80]);
        for good in [&png[..], JPEG_RGB, JPEG_GREY] {
            for cut in 0..good.len() {
                let _ = decode_image(&good[..cut], "t");
            }
            for _ in 0..500 {
                let mut b = good.to_vec();
                let i = rng.below(b.len());
                b[i] = rng.next_u64() as u8;
                let _ = decode_image(&b, "f");
            }
        }
    }

    #[test]
    fn palette_png_expands_to_rgb() {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, 2, 1);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(vec![255, 0, 0, 0, 0, 255]);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[0, 1]).unwrap();
        w.finish().unwrap();
        let img = decode_image(&out, "p.png").unwrap();
        assert_eq!(img.channels, 3);
        assert_eq!(img.pixels, vec![255, 0, 0, 0, 0, 255]);
    }
}
