fn main() {
    std::process::exit(convlab::cli::main());
}
