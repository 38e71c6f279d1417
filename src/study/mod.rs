//! Studies: recover a known network's parameters from data it generated (`simulate`,
//! `recover`), and measure how often training succeeds across seeds and settings (`sweep`).

pub mod compare;
mod forward;
mod hungarian;
pub mod recover;
pub mod recover_report;
pub mod simulate;
pub mod sweep;
