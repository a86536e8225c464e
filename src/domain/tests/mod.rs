//! `Authority` on a fresh database of each backend with a clock the tests
//! move: the decisions that depend on time (expiry, lockout) without
//! sleeping, and the ones that span two processes or nodes (unlock, key
//! rotation, DPoP proofs) with two authorities on one database. This file
//! holds the fixture; each file beside it one subject.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use super::ambient::{Ambient, ManualClock, OsRandom};
use super::records::EventFilter;
use super::*;
use crate::domain::storage::Database;
use crate::store::{PgDatabase, SqliteDatabase};

/// The backend a test runs on: each runs on both.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A new, empty database.
    fn database(self) -> Arc<dyn Database> {
        match self {
            Backend::Sqlite => Arc::new(SqliteDatabase::in_memory().unwrap()),
            Backend::Postgres => Arc::new(
                PgDatabase::open(&crate::store::postgres::test_database_url(), None).unwrap(),
            ),
        }
    }
}

/// Runs each named test on every backend.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Backend::Sqlite);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Backend::Postgres);
                }
            )*
        }
    };
}

const START: i64 = 1_800_000_000;
const PASSWORD: &str = "correct horse battery";
const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

struct Fixture {
    clock: Arc<ManualClock>,
    database: Arc<dyn Database>,
    authority: Authority,
}

impl Fixture {
    fn new(backend: Backend) -> Fixture {
        let clock = Arc::new(ManualClock::at(START));
        let database = backend.database();
        let (authority, first) = Authority::start(
            database.clone(),
            settings(),
            ambient(&clock),
            Some(PASSWORD),
            crate::domain::tokens::sealing::test_store(),
        )
        .unwrap();
        assert!(first.is_some_and(|f| f.generated_password.is_none()));
        Fixture {
            clock,
            database,
            authority,
        }
    }

    /// A second process on the same database (the admin CLI), same clock.
    fn other_process(&self) -> Authority {
        Authority::open(
            self.database.clone(),
            settings(),
            ambient(&self.clock),
            crate::domain::tokens::sealing::test_store(),
        )
        .unwrap()
    }

    fn admin_login(&mut self, source: IpAddr) -> Result<LoginSession, DomainError> {
        self.authority.login(
            LoginEndpoint::Provider,
            PROVIDER_ORG,
            ADMINISTRATOR,
            PASSWORD,
            None,
            source,
        )
    }

    /// An API token of the administrator's, made by itself.
    fn admin_token(&mut self, name: &str, ttl: &str) -> CreatedApiToken {
        let admin = self.admin();
        self.authority
            .create_api_token(
                Actor::Caller(&admin),
                &admin.account.user_id,
                new_token(name, Some(ttl)),
                None,
            )
            .unwrap()
    }

    fn admin(&mut self) -> Caller {
        let session = self.admin_login(HOME).unwrap();
        self.authority
            .authenticate(&session.access_token, HOME)
            .unwrap()
    }

    fn wrong_password(&mut self, source: IpAddr) -> DomainError {
        let result = self.authority.login(
            LoginEndpoint::Provider,
            PROVIDER_ORG,
            ADMINISTRATOR,
            "not the password",
            None,
            source,
        );
        match result {
            Err(e) => e,
            Ok(_) => panic!("a wrong password logged in"),
        }
    }
}

fn settings() -> Settings {
    Settings {
        issuer: "https://tokend.test".into(),
        access_token_lifetime: Duration::from_secs(30 * 60),
        operator: None,
        audit_retention: None,
        audit_max_bytes: None,
        audience: None,
        default_audience: Vec::new(),
        jwks_max_age: crate::domain::DEFAULT_JWKS_MAX_AGE,
        key_publish_delay: crate::domain::DEFAULT_KEY_PUBLISH_DELAY,
        dpop_nonce: Default::default(),
    }
}

fn new_token<'a>(name: &'a str, ttl: Option<&'a str>) -> NewApiToken<'a> {
    NewApiToken {
        name,
        ttl,
        scope: TokenScope::AllRoles,
        openid: false,
        request_id: None,
        bound_cidrs: &[],
    }
}

fn ambient(clock: &Arc<ManualClock>) -> Ambient {
    Ambient {
        clock: clock.clone(),
        random: Arc::new(OsRandom),
    }
}

mod api_tokens;
mod expiry;
mod first_start;
mod keys;
mod lockout;
mod nodes;
mod trail;
mod users;
