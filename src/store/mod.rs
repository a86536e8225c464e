//! Storage backends: the implementations of the domain's storage interface
//! (`domain::storage`). SQLite, embedded, is the default; PostgreSQL serves
//! several nodes on one database. SQL lives here and in the schema files
//! (`schema.sql`, `schema.postgres.sql`), nowhere else.

#[cfg(test)]
mod contract;
mod location;
pub mod postgres;
pub mod sqlite;
mod token_columns;
mod writer;

pub use location::DatabaseLocation;
pub use postgres::PgDatabase;
pub use sqlite::SqliteDatabase;
