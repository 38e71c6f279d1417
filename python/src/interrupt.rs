//! Long calls (fit, sweep, recover) run on a thread of their own while the calling thread,
//! without the GIL, waits for them and lets Python look at its signals every 20 ms: on Ctrl-C
//! the work is told to stop after the step under way, and the signal's error
//! (KeyboardInterrupt) comes back beside the work's result.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> convlab::Result<T> + Send,
) -> (convlab::Result<T>, PyResult<()>) {
    let stop = AtomicBool::new(false);
    // Set when the work is done, so the wait ends at once rather than at the next tick.
    let done = (Mutex::new(false), Condvar::new());
    let mut signal = Ok(());
    let out = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let out = work(&stop);
            *done.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
            done.1.notify_all();
            out
        });
        loop {
            let finished = py.detach(|| {
                let flag = done.0.lock().unwrap_or_else(|e| e.into_inner());
                let (flag, _) = done
                    .1
                    .wait_timeout_while(flag, Duration::from_millis(20), |d| !*d)
                    .unwrap_or_else(|e| e.into_inner());
                *flag
            });
            // A panicking worker never sets the flag; it has finished all the same.
            if finished || worker.is_finished() {
                break;
            }
            if signal.is_ok() {
                if let Err(e) = py.check_signals() {
                    stop.store(true, Ordering::Relaxed);
                    signal = Err(e);
                }
            }
        }
        worker.join().unwrap_or_else(|_| Err(convlab::Error::numeric("the worker thread panicked")))
    });
    (out, signal)
}
