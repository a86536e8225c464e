//! The service run inside the test process: the same `Server` the binary
//! runs, on real HTTP over a loopback port and a real SQLite file, but with
//! a clock the test moves and serving options the test sets.

use std::sync::Arc;
use std::time::Duration;

use tokend::domain::ambient::OsRandom;
use tokend::domain::{Ambient, Authority, Clock, ManualClock, Settings};
use tokend::http::{ServeOptions, Server};
use tokend::store::SqliteDatabase;

use super::{now_secs, Client, TempDir, ADMIN_PASSWORD};

/// Access-token lifetime of the in-process service, in seconds.
pub const IN_PROCESS_ACCESS_TTL: i64 = 1800;

pub struct InProcess {
    clock: Arc<ManualClock>,
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
        let database =
            SqliteDatabase::create_or_open(&dir.path.join("tokend.db")).expect("create database");
        let clock = Arc::new(ManualClock::at(now_secs()));
        let ambient = Ambient {
            clock: clock.clone(),
            random: Arc::new(OsRandom),
        };
        let settings = Settings {
            issuer: "http://tokend.test".into(),
            access_token_lifetime: Duration::from_secs(IN_PROCESS_ACCESS_TTL as u64),
            operator: None,
            audit_retention: None,
            audience: None,
        };
        let (authority, _) =
            Authority::start(Arc::new(database), settings, ambient, Some(ADMIN_PASSWORD))
                .expect("first start");
        let mut options = ServeOptions::new("127.0.0.1:0".parse().expect("address"), 2);
        tune(&mut options);
        let server = Server::start(authority, options).expect("serve");
        let api = Client::new(&server.local_addr().to_string());
        InProcess {
            clock,
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

    /// The time by the service's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}
