fn main() {
    // Exit quietly when stdout is closed early (`kskit --json ... | head`), as
    // Unix tools do, instead of panicking on the broken pipe. Rust ignores
    // SIGPIPE by default; this restores the default disposition.
    // SAFETY: called first in main, before any other thread exists; signal()
    // with SIG_DFL installs no handler code.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(kskit::cli::main());
}
