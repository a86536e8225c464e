//! The backend contract: what every storage backend must do, as tests that
//! run unchanged on each. A contract test is a function of one connection
//! (each statement committed on its own), generic over the storage traits
//! it uses, and is listed in its file's `contract!`, which runs it on a
//! fresh SQLite database and on a fresh PostgreSQL one.

/// Runs each named test on every backend, on a database of its own.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::store::contract::sqlite_conn());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::store::contract::postgres_conn());
                }
            )*
        }
    };
}

// The files below see `contract!` by textual scope: declare them after it.
mod accounts;
mod roles;

/// A fresh, migrated SQLite database in memory.
pub(crate) fn sqlite_conn() -> rusqlite::Connection {
    crate::store::sqlite::test_conn()
}

/// A fresh PostgreSQL database with the schema in it, on the test server
/// (`tests/postgres/server`).
pub(crate) fn postgres_conn() -> crate::store::postgres::PgConn {
    crate::store::postgres::test_conn()
}
