//! tokend: an on-prem API token authority.
//!
//! Layers call only downward: `cli` and `http` (the edges) → `domain` (every
//! decision, and the storage interface it needs) → `store` (the only code
//! that knows SQLite, implementing that interface); `mail` sends what the
//! domain asks through an SMTP relay; `key_file` keeps the key that seals
//! the private signing keys, outside the database; `logging` writes the log lines every
//! layer may write; `shapes` is the JSON of each object, which the API
//! answers and the CLI prints. See ARCHITECTURE.md.

#![forbid(unsafe_code)]

pub mod cli;
pub mod domain;
pub mod http;
pub mod key_file;
pub mod logging;
pub mod mail;
pub mod shapes;
pub mod store;
