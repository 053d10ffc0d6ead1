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
    // Before any secret is read: no core dumps (a dump of `ksr sign` held
    // the decrypted KSK). A failure is a warning, not a reason to stop.
    for problem in kskit::secrets::harden_process() {
        eprintln!("warning: {problem}");
    }
    std::process::exit(kskit::cli::main());
}
