// Counting allocations lets `convlab bench` report heap allocations per training step.
#[global_allocator]
static ALLOCATOR: convlab::bench::alloc_count::CountingAllocator = convlab::bench::alloc_count::CountingAllocator;

fn main() {
    std::process::exit(convlab::cli::main());
}
