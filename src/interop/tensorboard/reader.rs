//! Reading event files back (for tests, and to check a log): every record's CRCs are checked
//! and every event decoded.

use super::proto::{event, summary, Event};
use super::record::unframe;
use crate::error::{Error, Result};
use prost::Message;
use std::path::{Path, PathBuf};

/// The events of one file, in order.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = crate::fs::read_file(path)?;
    let records = unframe(&bytes).map_err(|e| Error::data(format!("{}: {e}", path.display())))?;
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            Event::decode(r).map_err(|e| Error::data(format!("{}: record {i} is not an Event: {e}", path.display())))
        })
        .collect()
}

/// The event files in `dir` (`events.out.tfevents.*`), by name.
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("events.out.tfevents.")))
        .collect();
    files.sort();
    Ok(files)
}

/// Every summary value in `events` with its step: (step, value).
pub fn values(events: &[Event]) -> Vec<(i64, &summary::Value)> {
    let summaries = events.iter().filter_map(|e| match &e.what {
        Some(event::What::Summary(s)) => Some((e.step, s)),
        _ => None,
    });
    summaries.flat_map(|(step, s)| s.value.iter().map(move |v| (step, v))).collect()
}

/// The scalars tagged `tag`, by step.
pub fn scalars(events: &[Event], tag: &str) -> Vec<(i64, f32)> {
    values(events)
        .into_iter()
        .filter(|(_, v)| v.tag == tag)
        .filter_map(|(step, v)| match v.value {
            Some(summary::value::Value::SimpleValue(x)) => Some((step, x)),
            _ => None,
        })
        .collect()
}
