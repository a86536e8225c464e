//! The `tokend` binary: everything is in the library; this only runs the CLI.

fn main() -> std::process::ExitCode {
    tokend::cli::run()
}
