//! Storage backends: the implementations of the domain's storage interface
//! (`domain::storage`). SQLite, embedded, is the one there is; SQL lives here
//! and in `schema.sql`, nowhere else.

#[cfg(test)]
mod contract;
pub mod postgres;
pub mod sqlite;
mod token_columns;

pub use sqlite::SqliteDatabase;
