//! An event file being written: `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in a folder,
//! starting with the `brain.Event:2` version record TensorBoard looks for. Every event is
//! written through at once (a few per epoch), so TensorBoard reading the folder shows each epoch
//! as it ends.

use super::histogram::histogram;
use super::proto::{event, summary, Event, Summary};
use super::record::frame;
use crate::error::{Error, Result};
use prost::Message;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What the first event of every file says.
pub const FILE_VERSION: &str = "brain.Event:2";

pub struct EventWriter {
    file: File,
    path: PathBuf,
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The host name for the file name, as TensorBoard's writers put it there; `localhost` when
/// unknown. Only letters, digits, `-` and `_` are kept, so the name stays one path component.
fn host() -> String {
    let name = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let name: String = name.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

impl EventWriter {
    /// A new event file in `dir` (created if missing).
    pub fn create(dir: &Path) -> Result<Self> {
        static FILES: AtomicUsize = AtomicUsize::new(0);
        std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        let name = format!("events.out.tfevents.{}.{}.{}.{n}", now() as u64, host(), std::process::id());
        let path = dir.join(name);
        let file = File::create_new(&path).map_err(|e| Error::write(&path, e))?;
        let mut w = EventWriter { file, path };
        w.write(Event { wall_time: now(), step: 0, what: Some(event::What::FileVersion(FILE_VERSION.into())) })?;
        Ok(w)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, e: Event) -> Result<()> {
        self.file.write_all(&frame(&e.encode_to_vec())).map_err(|err| Error::write(&self.path, err))
    }

    /// One event holding `values` at `step`.
    pub fn summary(&mut self, step: u64, values: Vec<summary::Value>) -> Result<()> {
        let what = Some(event::What::Summary(Summary { value: values }));
        self.write(Event { wall_time: now(), step: step as i64, what })
    }

    pub fn scalar(&mut self, tag: &str, step: u64, value: f64) -> Result<()> {
        self.summary(step, vec![scalar(tag, value)])
    }
}

/// A scalar (TensorBoard stores them as float32).
pub fn scalar(tag: &str, value: f64) -> summary::Value {
    summary::Value { tag: tag.into(), value: Some(summary::value::Value::SimpleValue(value as f32)) }
}

/// The histogram of `values`.
pub fn histogram_value(tag: &str, values: &[f32]) -> summary::Value {
    summary::Value { tag: tag.into(), value: Some(summary::value::Value::Histo(histogram(values))) }
}

/// An RGB image from its PNG bytes.
pub fn image(tag: &str, png: Vec<u8>, width: u32, height: u32) -> summary::Value {
    let image = summary::Image { height: height as i32, width: width as i32, colorspace: 3, encoded_image_string: png };
    summary::Value { tag: tag.into(), value: Some(summary::value::Value::Image(image)) }
}
