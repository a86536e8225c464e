//! The service run inside the test process: the same `Server` the binary
//! runs, on real HTTP over a loopback port and a real SQLite file, but with
//! a clock the test moves and serving options the test sets.

use std::sync::Arc;
use std::time::Duration;

use tokend::domain::ambient::OsRandom;
use tokend::domain::{Ambient, Authority, Clock, KeyRotation, ManualClock, Settings};
use tokend::http::{ServeOptions, Server};
use tokend::key_file::KeyFile;
use tokend::store::SqliteDatabase;

use super::{now_secs, Client, TempDir, ADMIN_PASSWORD};

/// Access-token lifetime of the in-process service, in seconds.
pub const IN_PROCESS_ACCESS_TTL: i64 = 1800;

pub struct InProcess {
    clock: Arc<ManualClock>,
    db: std::path::PathBuf,
    server: Option<Server>,
    api: Client,
    _dir: TempDir,
}

impl InProcess {
    /// Started with the default serving options.
    pub fn start() -> InProcess {
        InProcess::start_with(|_| {})
    }

    /// Started with serving options as `tune` leaves them.
    pub fn start_with(tune: impl FnOnce(&mut ServeOptions)) -> InProcess {
        let dir = TempDir::new();
        let db = dir.path.join("tokend.db");
        let database = SqliteDatabase::create_or_open(&db).expect("create database");
        let clock = Arc::new(ManualClock::at(now_secs()));
        let ambient = Ambient {
            clock: clock.clone(),
            random: Arc::new(OsRandom),
        };
        let (authority, _) = Authority::start(
            Arc::new(database),
            settings(),
            ambient,
            Some(ADMIN_PASSWORD),
            Arc::new(KeyFile::new(KeyFile::default_for(&db))),
        )
        .expect("first start");
        let mut options = ServeOptions::new("127.0.0.1:0".parse().expect("address"), 2);
        tune(&mut options);
        let server = Server::start(authority, options).expect("serve");
        let api = Client::new(&server.local_addr().to_string());
        InProcess {
            clock,
            db,
            server: Some(server),
            api,
            _dir: dir,
        }
    }

    pub fn api(&self) -> &Client {
        &self.api
    }

    /// Moves the service's clock on.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    /// Rotates the signing keys as the admin CLI does, from another handle
    /// on the database file, by the service's clock, publishing them
    /// `delay` seconds before they sign; the new ES256 key's id.
    pub fn rotate_signing_keys(&self, delay: i64) -> String {
        let rotation = KeyRotation::Published(Duration::from_secs(delay as u64));
        let keys = self
            .authority()
            .rotate_signing_keys(rotation)
            .expect("rotate");
        keys.into_iter()
            .find(|k| k.algorithm == "ES256")
            .expect("an ES256 key")
            .kid
    }

    /// Runs the housekeeping pass's revocation of idle tokens, as `serve`
    /// does every minute, by the service's clock; how many it revoked.
    pub fn revoke_idle_tokens(&self) -> u64 {
        self.authority().revoke_idle_tokens().expect("idle pass")
    }

    /// Another handle on the database file, by the service's clock.
    pub fn authority(&self) -> Authority {
        let database = SqliteDatabase::open_existing(&self.db).expect("open database");
        let ambient = Ambient {
            clock: self.clock.clone(),
            random: Arc::new(OsRandom),
        };
        let key_file = KeyFile::new(KeyFile::default_for(&self.db));
        Authority::open(Arc::new(database), settings(), ambient, Arc::new(key_file)).expect("open")
    }

    /// Another handle on the database file, by the service's clock, that
    /// reads its key-encryption key from `key_file` (after a reseal).
    pub fn authority_with_key_file(&self, key_file: &std::path::Path) -> Authority {
        let database = SqliteDatabase::open_existing(&self.db).expect("open database");
        let ambient = Ambient {
            clock: self.clock.clone(),
            random: Arc::new(OsRandom),
        };
        Authority::open(
            Arc::new(database),
            settings(),
            ambient,
            Arc::new(KeyFile::new(key_file)),
        )
        .expect("open")
    }

    /// The database file.
    pub fn db(&self) -> &std::path::Path {
        &self.db
    }

    /// The time by the service's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

fn settings() -> Settings {
    Settings {
        issuer: "http://tokend.test".into(),
        access_token_lifetime: Duration::from_secs(IN_PROCESS_ACCESS_TTL as u64),
        operator: None,
        audit_retention: None,
        audit_max_bytes: None,
        audience: None,
        default_audience: Vec::new(),
        jwks_max_age: tokend::domain::DEFAULT_JWKS_MAX_AGE,
        key_publish_delay: tokend::domain::DEFAULT_KEY_PUBLISH_DELAY,
        dpop_nonce: Default::default(),
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}
