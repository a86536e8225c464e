//! Seeds a fresh tokend database for the benchmark: the org `bench`, its
//! user `bench` (Token User), a service with introspection credentials, and
//! N API tokens made through the domain's
//! bulk path (shared commits, not one HTTP request each). Writes a sample of
//! the secrets, spread over the whole set, one per line, for the load
//! generator to pick from.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokend::domain::storage::Database;
use tokend::domain::{Actor, Ambient, Authority, NewAccount, Settings};
use tokend::key_file::KeyFile;
use tokend::store::{DatabaseLocation, PgDatabase, SqliteDatabase};

#[derive(Parser)]
struct Args {
    /// The database file, or a PostgreSQL database's URL; created (the
    /// schema, in an empty database), with the administrator's password
    /// from TOKEND_ADMIN_PASSWORD.
    #[arg(long)]
    db: DatabaseLocation,
    /// The key file [default: beside a database file; required with
    /// PostgreSQL].
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// API tokens to create.
    #[arg(long, default_value_t = 100_000)]
    tokens: usize,
    /// Where the sample of secrets goes.
    #[arg(long)]
    secrets: PathBuf,
    /// Secrets in the sample at most.
    #[arg(long, default_value_t = 100_000)]
    sample: usize,
    /// The password of the user bench@bench.
    #[arg(long)]
    password: String,
    /// Where the introspection client's id and secret go (two lines).
    #[arg(long)]
    client: PathBuf,
}

fn main() {
    if let Err(e) = seed(Args::parse()) {
        eprintln!("tokend-seed: {e}");
        std::process::exit(1);
    }
}

fn seed(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let (database, key_file): (Arc<dyn Database>, PathBuf) = match (&args.db, &args.key_file) {
        (DatabaseLocation::File(path), key_file) => (
            Arc::new(SqliteDatabase::create_or_open(path)?),
            // Where `tokend serve` looks for it by default.
            key_file
                .clone()
                .unwrap_or_else(|| KeyFile::default_for(path)),
        ),
        (DatabaseLocation::Postgres { url, ca_pem }, Some(key_file)) => (
            Arc::new(PgDatabase::open(url, ca_pem.as_deref())?),
            key_file.clone(),
        ),
        (DatabaseLocation::Postgres { .. }, None) => {
            return Err("--key-file is needed with a PostgreSQL database".into())
        }
    };
    let settings = Settings {
        issuer: "http://127.0.0.1".into(),
        access_token_lifetime: Duration::from_secs(1800),
        operator: Some("cli:tokend-seed".into()),
        audit_retention: None,
        audit_max_bytes: None,
        audience: None,
        default_audience: Vec::new(),
        jwks_max_age: tokend::domain::DEFAULT_JWKS_MAX_AGE,
        key_publish_delay: tokend::domain::DEFAULT_KEY_PUBLISH_DELAY,
        dpop_nonce: Default::default(),
    };
    let admin_password = std::env::var("TOKEND_ADMIN_PASSWORD").ok();
    let (mut authority, _) = Authority::start(
        database,
        settings,
        Ambient::system(),
        admin_password.as_deref(),
        Arc::new(KeyFile::new(key_file)),
    )?;
    authority.add_org(Actor::Operator, "bench")?;
    authority.add_user(
        Actor::Operator,
        NewAccount {
            org_name: "bench",
            user_name: "bench",
            password: &args.password,
            role_names: &["Token User".to_string()],
            email: None,
            display_name: None,
        },
    )?;
    let service = authority.add_service(
        Actor::Operator,
        "bench-api",
        &["bench-api:read".to_string()],
    )?;
    let client = authority.add_introspection_client(Actor::Operator, &service)?;
    std::fs::write(
        &args.client,
        format!("{}\n{}\n", client.client_id, client.client_secret),
    )?;
    let every = args.tokens.div_ceil(args.sample.max(1)).max(1);
    let mut secrets = std::io::BufWriter::new(std::fs::File::create(&args.secrets)?);
    let mut written: std::io::Result<()> = Ok(());
    let mut n = 0;
    authority.create_api_tokens_in_bulk("bench", "bench", "seed", args.tokens, |token| {
        if n % every == 0 && written.is_ok() {
            written = writeln!(secrets, "{}", token.secret.reveal());
        }
        n += 1;
    })?;
    written?;
    secrets.flush()?;
    eprintln!(
        "tokend-seed: {} tokens in {:.1} s",
        args.tokens,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
