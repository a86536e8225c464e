//! Where the database is: a SQLite file (the default) or a PostgreSQL
//! database, told apart by the `--db` / `TOKEND_DB` value alone.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// The embedded database, in this file.
    File(PathBuf),
    /// A PostgreSQL database, as a `postgres://` or `postgresql://` URL
    /// (libpq's form: user, password, host, port, database, options), and
    /// the PEM certificates to trust for its TLS beside the system's.
    Postgres {
        url: String,
        ca_pem: Option<Vec<u8>>,
    },
}

impl DatabaseLocation {
    pub fn parse(value: &str) -> DatabaseLocation {
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            DatabaseLocation::Postgres {
                url: value.to_string(),
                ca_pem: None,
            }
        } else {
            DatabaseLocation::File(PathBuf::from(value))
        }
    }
}

impl From<&std::ffi::OsStr> for DatabaseLocation {
    fn from(value: &std::ffi::OsStr) -> DatabaseLocation {
        match value.to_str() {
            Some(text) => DatabaseLocation::parse(text),
            None => DatabaseLocation::File(PathBuf::from(value)),
        }
    }
}

impl DatabaseLocation {
    /// Trusts the certificates in `pem` for a PostgreSQL server's TLS.
    pub fn trusting(self, pem: Vec<u8>) -> DatabaseLocation {
        match self {
            DatabaseLocation::Postgres { url, .. } => DatabaseLocation::Postgres {
                url,
                ca_pem: Some(pem),
            },
            file => file,
        }
    }
}

/// The file's path, or the URL without its password: what messages and
/// logs may show.
impl fmt::Display for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseLocation::File(path) => write!(f, "{}", path.display()),
            DatabaseLocation::Postgres { url, .. } => f.write_str(&without_password(url)),
        }
    }
}

/// `url` with the password of its user part, if any, replaced by `***`,
/// and any `password=` query option likewise.
fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_postgres_and_anything_else_a_file() {
        assert_eq!(
            DatabaseLocation::parse("./tokend.db"),
            DatabaseLocation::File("./tokend.db".into())
        );
        assert!(matches!(
            DatabaseLocation::parse("postgresql://db.example/tokend"),
            DatabaseLocation::Postgres { .. }
        ));
        assert!(matches!(
            DatabaseLocation::parse("POSTGRES://db/tokend"),
            DatabaseLocation::Postgres { .. }
        ));
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        let shown = |url: &str| DatabaseLocation::parse(url).to_string();
        assert_eq!(
            shown("postgres://tokend:s3cret@db.example:5432/tokend"),
            "postgres://tokend:***@db.example:5432/tokend"
        );
        assert_eq!(
            shown("postgres://tokend@db/tokend?sslmode=disable&password=s3cret"),
            "postgres://tokend@db/tokend?sslmode=disable&password=***"
        );
        assert_eq!(shown("postgres://db/tokend"), "postgres://db/tokend");
        assert!(!shown("postgres://u:p%40ss@h/d").contains("p%40ss"));
    }
}
