//! tokend: an on-prem API token authority in one binary.
//!
//! Layers call only downward: `cli` and `http` (the edges) → `domain` (every
//! decision) → `store` (the only code that knows SQLite). See ARCHITECTURE.md.

mod cli;
mod domain;
mod http;
mod store;

fn main() -> std::process::ExitCode {
    cli::run()
}
