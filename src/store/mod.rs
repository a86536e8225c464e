//! Storage backends: the implementations of the domain's storage interface
//! (`domain::storage`). SQLite, embedded, is the one there is; SQL lives here
//! and in `schema.sql`, nowhere else.

pub mod postgres;
pub mod sqlite;

pub use sqlite::SqliteDatabase;
