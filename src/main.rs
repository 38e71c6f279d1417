// Counting allocations lets `convlab bench` report heap allocations per training step.
#[global_allocator]
static ALLOCATOR: convlab::bench::alloc_count::CountingAllocator = convlab::bench::alloc_count::CountingAllocator;

fn main() {
    restore_default_sigpipe();
    std::process::exit(convlab::cli::main());
}

/// `convlab eval RUN | head -1` closes the pipe early. Rust ignores SIGPIPE, so the next
/// `println!` would panic; like every Unix filter, convlab should just stop, quietly.
#[cfg(unix)]
fn restore_default_sigpipe() {
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    // SAFETY: called once at start-up, before any thread exists; resetting a signal to its
    // default disposition has no other effect on the program.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}
