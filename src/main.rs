fn main() {
    std::process::exit(kskit::cli::main());
}
