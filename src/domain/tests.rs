//! `Authority` on an in-memory database with a clock the tests move: the
//! decisions that depend on time (expiry, lockout) without sleeping, and the
//! ones that span two processes (unlock, key rotation) with two authorities
//! on one database.

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

fn first_start_happens_once(backend: Backend) {
    let f = Fixture::new(backend);
    let (_, again) = Authority::start(
        f.database.clone(),
        settings(),
        ambient(&f.clock),
        None,
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    assert!(again.is_none(), "a second start initialises nothing");
}

fn admin_commands_refuse_an_uninitialised_database(backend: Backend) {
    let database = backend.database();
    let clock = Arc::new(ManualClock::at(START));
    let opened = Authority::open(
        database.clone(),
        settings(),
        ambient(&clock),
        crate::domain::tokens::sealing::test_store(),
    );
    assert!(matches!(opened, Err(DomainError::Invalid(_))));
    // ...and wrote nothing: a later first start still happens.
    let (_, first) = Authority::start(
        database,
        settings(),
        ambient(&clock),
        None,
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    assert!(first.is_some_and(|f| f.generated_password.is_some()));
}

fn a_failed_first_start_writes_nothing(backend: Backend) {
    let database = backend.database();
    let clock = Arc::new(ManualClock::at(START));
    let short = Authority::start(
        database.clone(),
        settings(),
        ambient(&clock),
        Some("short"),
        crate::domain::tokens::sealing::test_store(),
    );
    assert!(matches!(short, Err(DomainError::Invalid(_))));
    let opened = Authority::open(
        database,
        settings(),
        ambient(&clock),
        crate::domain::tokens::sealing::test_store(),
    );
    assert!(opened.is_err(), "no provider org was written");
}

fn an_api_token_expires_at_its_lifetime_by_the_clock(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let created = f
        .authority
        .create_api_token(
            Actor::Caller(&admin),
            &admin.account.user_id,
            new_token("ci", Some("30m")),
            None,
        )
        .unwrap();
    assert_eq!(created.expires_at, Some(START + 1800));
    let secret = created.secret.reveal().to_string();

    f.clock.advance(1799);
    let issued = f
        .authority
        .exchange_api_token(
            &secret,
            ExchangeAudience::Provider,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait)
        .unwrap();
    assert_eq!(issued.expires_in, 1, "capped by the API token's expiry");

    f.clock.advance(1);
    let expired = f
        .authority
        .exchange_api_token(
            &secret,
            ExchangeAudience::AnyOrg,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait);
    assert!(matches!(
        expired,
        Err(DomainError::InvalidGrant("the API token has expired"))
    ));
    let caller = f.authority.authenticate(&issued.access_token, HOME);
    assert!(matches!(caller, Err(DomainError::Unauthenticated(_))));
}

fn a_remembered_access_token_stops_working_the_moment_its_session_ends(backend: Backend) {
    let mut f = Fixture::new(backend);
    let session = f.admin_login(HOME).unwrap();
    // Checked twice: the second time from the verified-token cache.
    let caller = f
        .authority
        .authenticate(&session.access_token, HOME)
        .unwrap();
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_ok());
    f.authority.logout(&caller).unwrap();
    assert!(matches!(
        f.authority.authenticate(&session.access_token, HOME),
        Err(DomainError::Unauthenticated(_))
    ));
}

fn sessions_end_at_their_lifetime(backend: Backend) {
    let mut f = Fixture::new(backend);
    let session = f.admin_login(HOME).unwrap();
    assert_eq!(session.expires_at, START + 1800);
    f.clock.advance(1799);
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_ok());
    f.clock.advance(1);
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_err());
}

fn token_derived_access_is_view_only_and_sees_only_its_own_tokens(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let created = f
        .authority
        .create_api_token(
            Actor::Caller(&admin),
            &admin.account.user_id,
            new_token("ci", None),
            None,
        )
        .unwrap();
    let issued = f
        .authority
        .exchange_api_token(
            created.secret.reveal(),
            ExchangeAudience::Provider,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait)
        .unwrap();
    let derived = f
        .authority
        .authenticate(&issued.access_token, HOME)
        .unwrap();
    assert_eq!(derived.api_token_id(), Some(created.id.as_str()));
    assert!(!derived.rights.contains(Right::TokenManageAll));
    let page = PageRequest::new(1, 25).unwrap();
    assert!(f
        .authority
        .all_visible_api_tokens(&admin, &InventoryQuery::default(), page)
        .is_ok());
    assert!(matches!(
        f.authority
            .all_visible_api_tokens(&derived, &InventoryQuery::default(), page),
        Err(DomainError::Forbidden(_))
    ));
    assert_eq!(
        f.authority
            .own_api_tokens(&derived, None, page)
            .unwrap()
            .total,
        1
    );
    assert!(matches!(
        f.authority.create_api_token(
            Actor::Caller(&derived),
            &derived.account.user_id,
            new_token("more", None),
            None
        ),
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        f.authority
            .revoke_api_token(Actor::Caller(&derived), &created.id),
        Err(DomainError::Forbidden(_))
    ));
}

fn a_lock_holds_for_one_address_and_passes_with_time(backend: Backend) {
    let mut f = Fixture::new(backend);
    for _ in 0..5 {
        assert!(matches!(
            f.wrong_password(ELSEWHERE),
            DomainError::InvalidCredentials
        ));
    }
    assert!(matches!(
        f.wrong_password(ELSEWHERE),
        DomainError::LoginLocked(60)
    ));
    assert!(f.admin_login(HOME).is_ok(), "another address still logs in");
    f.clock.advance(60);
    assert!(matches!(
        f.wrong_password(ELSEWHERE),
        DomainError::InvalidCredentials
    ));
}

fn an_unlock_from_another_process_lifts_the_lock(backend: Backend) {
    let mut f = Fixture::new(backend);
    for _ in 0..5 {
        f.wrong_password(ELSEWHERE);
    }
    assert!(matches!(
        f.admin_login(ELSEWHERE),
        Err(DomainError::LoginLocked(_))
    ));
    let mut cli = f.other_process();
    cli.unlock_login(PROVIDER_ORG, ADMINISTRATOR).unwrap();
    assert!(
        f.admin_login(ELSEWHERE).is_ok(),
        "the server saw the unlock"
    );

    // An unlock is not a pass for later locks.
    f.clock.advance(1);
    for _ in 0..5 {
        f.wrong_password(ELSEWHERE);
    }
    assert!(matches!(
        f.admin_login(ELSEWHERE),
        Err(DomainError::LoginLocked(_))
    ));
    assert!(matches!(
        cli.unlock_login(PROVIDER_ORG, "nobody"),
        Err(DomainError::NotFound(_))
    ));
}

fn kid_of(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

fn published_kids(authority: &Authority) -> Vec<String> {
    authority.jwks().unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn a_rotated_key_is_published_first_signs_after_the_delay_and_old_tokens_still_verify(
    backend: Backend,
) {
    let mut f = Fixture::new(backend);
    let before = f.admin_login(HOME).unwrap();
    let mut cli = f.other_process();
    let delay = Duration::from_secs(600);
    let rotated = cli
        .rotate_signing_keys(KeyRotation::Published(delay))
        .unwrap();
    assert_eq!(rotated.len(), 2, "an ES256 and an RS256 key");
    let es256 = rotated.iter().find(|k| k.algorithm == "ES256").unwrap();

    // Published at once, beside the first pair; not signing yet.
    let published = published_kids(&f.authority);
    assert_eq!(published.len(), 4);
    assert!(rotated.iter().all(|k| published.contains(&k.kid)));
    let during = f.admin_login(HOME).unwrap();
    assert_eq!(kid_of(&during.access_token), kid_of(&before.access_token));

    f.clock.advance(delay.as_secs() as i64);
    let after = f.admin_login(HOME).unwrap();
    assert_eq!(kid_of(&after.access_token), es256.kid);
    assert!(f.authority.authenticate(&before.access_token, HOME).is_ok());
    let listed = cli.signing_keys().unwrap();
    assert_eq!(listed.iter().filter(|k| k.signs).count(), 2, "one of each");
    assert!(listed.iter().any(|k| k.signs && k.kid == es256.kid));
    assert!(listed.iter().all(|k| k.verifies));

    // Once every token the old keys signed has expired, they are dropped.
    f.clock
        .advance(settings().access_token_lifetime.as_secs() as i64 + 61);
    assert!(f
        .authority
        .authenticate(&before.access_token, HOME)
        .is_err());
    let mut served = published_kids(&f.authority);
    served.sort();
    let mut expected: Vec<String> = rotated.iter().map(|k| k.kid.clone()).collect();
    expected.sort();
    assert_eq!(served, expected);
    let listed = cli.signing_keys().unwrap();
    assert!(listed
        .iter()
        .any(|k| !k.signs && !k.verifies && k.replaced_at == Some(es256.activates_at)));
}

fn an_upgraded_database_gets_an_rsa_key_published_before_it_signs(backend: Backend) {
    let f = Fixture::new(backend);
    // As a database made before ID tokens were RS256: its ES256 key only.
    let ec = f
        .authority
        .signing_keys()
        .unwrap()
        .into_iter()
        .find(|k| k.algorithm == "ES256")
        .unwrap();
    let store = f.database.connect().unwrap();
    store
        .write(move |tx| tx.retire_signing_keys_except(std::slice::from_ref(&ec.kid), START))
        .unwrap();
    assert_eq!(published_kids(&f.authority).len(), 1);

    let (restarted, first) = Authority::start(
        f.database.clone(),
        settings(),
        ambient(&f.clock),
        Some(PASSWORD),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    assert!(first.is_none());
    let keys = restarted.signing_keys().unwrap();
    let rsa = keys.iter().find(|k| k.algorithm == "RS256").unwrap();
    let delay = settings().key_publish_delay.as_secs() as i64;
    assert_eq!(rsa.activates_at, START + delay);
    assert!(!rsa.signs && rsa.verifies, "published, not signing yet");
    assert!(published_kids(&restarted).contains(&rsa.kid));
    f.clock.advance(delay);
    let keys = restarted.signing_keys().unwrap();
    assert!(keys.iter().any(|k| k.algorithm == "RS256" && k.signs));
}

fn a_delay_within_the_jwks_max_age_is_refused(backend: Backend) {
    let f = Fixture::new(backend);
    let mut cli = f.other_process();
    let max_age = settings().jwks_max_age;
    assert!(matches!(
        cli.rotate_signing_keys(KeyRotation::Published(max_age)),
        Err(DomainError::Invalid(_))
    ));
    assert_eq!(published_kids(&f.authority).len(), 2, "nothing was added");
}

fn a_rotation_at_once_signs_now_and_refuses_what_the_old_keys_signed(backend: Backend) {
    let mut f = Fixture::new(backend);
    let before = f.admin_login(HOME).unwrap();
    // Verified once, so it is remembered.
    assert!(f.authority.authenticate(&before.access_token, HOME).is_ok());
    let mut cli = f.other_process();
    let rotated = cli.rotate_signing_keys(KeyRotation::AtOnce).unwrap();
    let after = f.admin_login(HOME).unwrap();
    let es256 = rotated.iter().find(|k| k.algorithm == "ES256").unwrap();
    assert_eq!(kid_of(&after.access_token), es256.kid);
    assert!(
        f.authority
            .authenticate(&before.access_token, HOME)
            .is_err(),
        "a token of a retired key is refused, remembered or not"
    );
    assert!(f.authority.authenticate(&after.access_token, HOME).is_ok());
    let mut served = published_kids(&f.authority);
    served.sort();
    let mut expected: Vec<String> = rotated.iter().map(|k| k.kid.clone()).collect();
    expected.sort();
    assert_eq!(served, expected, "only the new keys are published");
}

fn names_with_bidi_overrides_are_refused(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let spoof = f.authority.create_api_token(
        Actor::Caller(&admin),
        &admin.account.user_id,
        new_token("invoice\u{202e}fdp.exe", None),
        None,
    );
    assert!(matches!(spoof, Err(DomainError::Invalid(_))));
    let user = f.authority.add_user(
        Actor::Operator,
        NewAccount {
            org_name: PROVIDER_ORG,
            user_name: "eve\u{200b}",
            password: PASSWORD,
            role_names: &[],
            email: None,
            display_name: None,
        },
    );
    assert!(matches!(user, Err(DomainError::Invalid(_))));
    assert!(f
        .authority
        .api_tokens(&TokenQuery::default())
        .unwrap()
        .is_empty());
}

fn retention_prunes_only_events_past_their_age_and_says_so(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.admin_login(HOME).unwrap();
    f.clock.advance(300 * day);
    f.admin_login(HOME).unwrap();
    let year = Duration::from_secs(365 * day as u64);
    let mut pass = Authority::open(
        f.database.clone(),
        Settings {
            audit_retention: Some(year),
            ..settings()
        },
        ambient(&f.clock),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    let all = EventFilter {
        limit: 100,
        ..EventFilter::default()
    };
    let kinds = |authority: &Authority| -> Vec<String> {
        let events = authority.events_for_operator(None, all.clone()).unwrap();
        events.into_iter().map(|(_, e)| e.kind).collect()
    };
    assert_eq!(
        pass.apply_audit_retention().unwrap(),
        0,
        "nothing is a year old yet"
    );
    assert_eq!(
        kinds(&pass),
        ["session.login", "session.login", "system.initialize"]
    );

    f.clock.advance(100 * day);
    assert_eq!(
        pass.apply_audit_retention().unwrap(),
        2,
        "the first start and the first login"
    );
    assert_eq!(
        kinds(&pass),
        ["audit.prune", "session.login"],
        "newest first"
    );
    let prune = &pass.events_for_operator(None, all.clone()).unwrap()[0].1;
    assert_eq!(prune.properties["deleted"], 2);
    assert_eq!(prune.properties["operator"], "tokend");

    // Without a retention age nothing is ever pruned.
    f.clock.advance(1000 * day);
    assert_eq!(f.other_process().apply_audit_retention().unwrap(), 0);
}

fn a_kept_account_gives_way_to_any_change_made_by_another_process(backend: Backend) {
    let mut f = Fixture::new(backend);
    f.authority.add_org(Actor::Operator, "acme").unwrap();
    f.authority
        .add_user(
            Actor::Operator,
            NewAccount {
                org_name: "acme",
                user_name: "alice",
                password: PASSWORD,
                role_names: &[rights::TOKEN_USER.to_string()],
                email: None,
                display_name: None,
            },
        )
        .unwrap();
    let session = f
        .authority
        .login(LoginEndpoint::Tenant, "acme", "alice", PASSWORD, None, HOME)
        .unwrap();
    let manages = |f: &Fixture| -> Option<bool> {
        let caller = f.authority.authenticate(&session.access_token, HOME).ok()?;
        Some(caller.rights.contains(Right::UserManage))
    };
    assert_eq!(manages(&f), Some(false));
    assert_eq!(manages(&f), Some(false), "now from the kept account");

    // The admin CLI, a process with its own cache, changes alice.
    let mut cli = f.other_process();
    let admin = rights::ORGANIZATION_ADMINISTRATOR;
    let alice = cli.user_by_name("acme", "alice").unwrap();
    cli.set_user_role(Actor::Operator, &alice, admin, true)
        .unwrap();
    assert_eq!(manages(&f), Some(true), "a grant counts at once");
    cli.set_user_role(Actor::Operator, &alice, admin, false)
        .unwrap();
    assert_eq!(manages(&f), Some(false), "so does taking it back");
    cli.add_group(Actor::Operator, "acme", "admins").unwrap();
    let group = cli.group_by_name("acme", "admins").unwrap();
    cli.set_group_role(Actor::Operator, &group, admin, true)
        .unwrap();
    assert_eq!(manages(&f), Some(false), "alice is not in the group yet");
    let group = cli.group_by_name("acme", "admins").unwrap();
    cli.set_group_member(Actor::Operator, &group, &alice, true)
        .unwrap();
    assert_eq!(manages(&f), Some(true), "through the group");
    cli.set_user_enabled(Actor::Operator, &alice, false)
        .unwrap();
    assert_eq!(manages(&f), None, "a disabled user is refused at once");
}

fn the_same_request_sent_again_makes_no_second_token(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    let form = |request_id| NewApiToken {
        request_id: Some(request_id),
        ..new_token("ci", None)
    };
    f.authority
        .create_api_token(by, &owner, form("r1"), None)
        .unwrap();
    let again = f.authority.create_api_token(by, &owner, form("r1"), None);
    assert!(matches!(again, Err(DomainError::Conflict(_))), "{again:?}");
    f.authority
        .create_api_token(by, &owner, form("r2"), None)
        .unwrap();
    let page = PageRequest::new(1, 10).unwrap();
    let listed = f.authority.own_api_tokens(&admin, None, page).unwrap();
    assert_eq!(listed.total, 2, "one token per request");
}

fn a_token_listing_by_state_splits_live_from_expired_and_revoked(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    let make = |f: &mut Fixture, name: &'static str, ttl: &'static str| {
        f.authority
            .create_api_token(by, &owner, new_token(name, Some(ttl)), None)
            .unwrap()
            .id
    };
    make(&mut f, "short", "30m");
    make(&mut f, "long", "never");
    let gone = make(&mut f, "gone", "never");
    f.authority.revoke_api_token(by, &gone).unwrap();
    f.clock.advance(31 * 60);
    let admin = f.admin();
    let page = PageRequest::new(1, 10).unwrap();
    let names = |state| {
        let mut names: Vec<String> = f
            .authority
            .own_api_tokens_by_state(&admin, state, page)
            .unwrap()
            .tokens
            .into_iter()
            .map(|t| t.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(TokenState::Live), ["long"]);
    assert_eq!(names(TokenState::Inactive), ["gone", "short"]);
}

fn a_tokens_reminder_is_read_back_to_be_carried_over(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    let reminder = ReminderRequest {
        before: "7d",
        email: Some("ops@example.org"),
    };
    let with = f
        .authority
        .create_api_token(by, &owner, new_token("with", Some("30d")), Some(reminder))
        .unwrap();
    let without = f
        .authority
        .create_api_token(by, &owner, new_token("without", Some("30d")), None)
        .unwrap();
    assert_eq!(
        f.authority.reminder_of(by, &with.id).unwrap(),
        Some(("ops@example.org".to_string(), "604800s".to_string()))
    );
    assert_eq!(f.authority.reminder_of(by, &without.id).unwrap(), None);
}

fn the_inventory_sorts_by_expiry_and_splits_by_state(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    for (name, ttl) in [("late", "90d"), ("never", "never"), ("soon", "1d")] {
        f.authority
            .create_api_token(by, &owner, new_token(name, Some(ttl)), None)
            .unwrap();
    }
    let page = PageRequest::new(1, 10).unwrap();
    let query = InventoryQuery {
        state: Some(TokenState::Live),
        sort: TokenSort::Expires,
        ..InventoryQuery::default()
    };
    let names: Vec<String> = f
        .authority
        .all_visible_api_tokens(&admin, &query, page)
        .unwrap()
        .tokens
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        ["soon", "late", "never"],
        "soonest first, never last"
    );
    let inactive = InventoryQuery {
        state: Some(TokenState::Inactive),
        ..query
    };
    assert_eq!(
        f.authority
            .all_visible_api_tokens(&admin, &inactive, page)
            .unwrap()
            .total,
        0
    );
}

fn with_retention(f: &Fixture) -> Authority {
    Authority::open(
        f.database.clone(),
        Settings {
            audit_retention: Some(Duration::from_secs(365 * 24 * 3600)),
            ..settings()
        },
        ambient(&f.clock),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap()
}

fn event_count(authority: &Authority) -> usize {
    let all = EventFilter {
        limit: 1000,
        ..EventFilter::default()
    };
    authority.events_for_operator(None, all).unwrap().len()
}

fn a_clock_jumped_ahead_prunes_revokes_and_forgets_nothing_until_confirmed(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.admin_login(HOME).unwrap();
    let mut pass = with_retention(&f);
    let before = event_count(&pass);

    // 400 days ahead in an instant: the whole trail would be past its year.
    f.clock.jump(400 * day);
    for (what, outcome) in [
        ("retention", pass.apply_audit_retention()),
        ("idle revocation", pass.revoke_idle_tokens()),
        ("forgetting revocations", pass.forget_expired_revocations()),
    ] {
        match outcome {
            Err(DomainError::Unavailable(why)) => {
                assert!(why.contains("clock confirm"), "{what}: {why}")
            }
            other => panic!("{what} acted on a jumped clock: {other:?}"),
        }
    }
    assert_eq!(event_count(&pass), before, "nothing was pruned");

    // The admin sets the clock right and confirms it: the passes act again,
    // and there is nothing a year old.
    f.clock.jump(-400 * day);
    f.other_process().confirm_clock(Actor::Operator).unwrap();
    assert_eq!(pass.apply_audit_retention().unwrap(), 0);
    assert_eq!(pass.revoke_idle_tokens().unwrap(), 0);
    assert!(pass.forget_expired_revocations().is_ok());
}

fn a_start_far_past_the_trail_or_behind_it_is_doubted(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.admin_login(HOME).unwrap();
    // Started with the clock 400 days past the newest event.
    f.clock.jump(400 * day);
    let mut late = with_retention(&f);
    assert!(matches!(
        late.apply_audit_retention(),
        Err(DomainError::Unavailable(_))
    ));
    // A month of silence is believed: a service may be off that long.
    f.clock.jump(-400 * day);
    f.clock.advance(29 * day);
    assert!(with_retention(&f).apply_audit_retention().is_ok());
    // Started with the clock behind the trail.
    f.clock.jump(-30 * day);
    let mut early = with_retention(&f);
    assert!(matches!(
        early.revoke_idle_tokens(),
        Err(DomainError::Unavailable(_))
    ));
    // Confirmed: believed from then on, by handles already running too.
    early.confirm_clock(Actor::Operator).unwrap();
    assert!(early.revoke_idle_tokens().is_ok());
    assert!(with_retention(&f).apply_audit_retention().is_ok());
}

fn tokens_made_under_a_clock_set_ahead_stop_when_it_is_set_right(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.clock.jump(400 * day);
    let created = f.admin_token("ahead", "30d");
    let session = f.admin_login(HOME).unwrap();
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_ok());

    f.clock.jump(-400 * day);
    assert!(
        matches!(
            f.authority.authenticate(&session.access_token, HOME),
            Err(DomainError::Unauthenticated(_))
        ),
        "an access token issued 400 days ahead would live 400 days"
    );
    let exchanged = f
        .authority
        .exchange_api_token(
            created.secret.reveal(),
            ExchangeAudience::Provider,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait);
    assert!(matches!(
        exchanged,
        Err(DomainError::InvalidGrant(
            "the API token was made at a time still to come"
        ))
    ));
}

fn the_size_bound_deletes_the_oldest_exchanges_and_never_a_refusal_or_a_change(backend: Backend) {
    let mut f = Fixture::new(backend);
    let created = f.admin_token("busy", "30d");
    let exchange = |f: &mut Fixture, secret: &str| {
        f.authority
            .exchange_api_token(
                secret,
                ExchangeAudience::Provider,
                &ExchangeRequest::default(),
                HOME,
            )
            .and_then(Committing::wait)
    };
    for _ in 0..1500 {
        exchange(&mut f, created.secret.reveal()).unwrap();
    }
    assert!(exchange(&mut f, "tkd_not_a_token").is_err());
    f.authority.drain_writes().unwrap();
    f.clock.advance(120);
    let kinds = |authority: &Authority| -> Vec<String> {
        let all = EventFilter {
            limit: 5000,
            ..EventFilter::default()
        };
        let events = authority.events_for_operator(None, all).unwrap();
        events.into_iter().map(|(_, e)| e.kind).collect()
    };
    let count = |kinds: &[String], kind: &str| kinds.iter().filter(|k| *k == kind).count();
    let before = kinds(&f.authority);
    assert_eq!(count(&before, "token.exchange"), 1500);
    assert_eq!(count(&before, "token.exchange_failed"), 1);
    let used = f.authority.database_bytes_used().unwrap();

    let bounded = |max: u64| {
        Authority::open(
            f.database.clone(),
            Settings {
                audit_max_bytes: Some(max),
                ..settings()
            },
            ambient(&f.clock),
            crate::domain::tokens::sealing::test_store(),
        )
        .unwrap()
    };
    assert_eq!(bounded(used + 1).apply_audit_size_bound().unwrap(), 0);
    let mut pass = bounded(used - 100 * 1024);
    let deleted = pass.apply_audit_size_bound().unwrap();
    assert!(deleted > 0 && deleted < 1500, "{deleted}");
    assert!(pass.database_bytes_used().unwrap() <= used - 100 * 1024);
    let after = kinds(&pass);
    assert_eq!(count(&after, "token.exchange"), 1500 - deleted as usize);
    for kept in [
        "token.exchange_failed",
        "token.create",
        "session.login",
        "system.initialize",
    ] {
        assert_eq!(count(&after, kept), count(&before, kept), "{kept} kept");
    }
    let prune = &pass
        .events_for_operator(
            None,
            EventFilter {
                kind: Some("audit.prune".into()),
                limit: 1,
                ..EventFilter::default()
            },
        )
        .unwrap()[0]
        .1;
    assert_eq!(prune.properties["reason"], "size");
    assert_eq!(prune.properties["deleted"], deleted);

    // A bound that only deleting changes could meet is not met, and says so.
    let mut tight = bounded(1024);
    assert!(matches!(
        tight.apply_audit_size_bound(),
        Err(DomainError::Unavailable(_))
    ));
    let last = kinds(&tight);
    assert_eq!(count(&last, "token.exchange"), 0);
    assert_eq!(
        count(&last, "token.exchange_failed"),
        count(&before, "token.exchange_failed")
    );
}

/// A user of acme with `roles`, logged in there.
fn acme_caller(f: &mut Fixture, name: &str, roles: &[&str]) -> Caller {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    f.authority
        .add_user(
            Actor::Operator,
            NewAccount {
                org_name: "acme",
                user_name: name,
                password: PASSWORD,
                role_names: &roles,
                email: None,
                display_name: None,
            },
        )
        .unwrap();
    let session = f
        .authority
        .login(LoginEndpoint::Tenant, "acme", name, PASSWORD, None, HOME)
        .unwrap();
    f.authority
        .authenticate(&session.access_token, HOME)
        .unwrap()
}

fn user_details_are_changed_by_the_rules_of_user_management(backend: Backend) {
    let mut f = Fixture::new(backend);
    f.authority.add_org(Actor::Operator, "acme").unwrap();
    let carol = acme_caller(&mut f, "carol", &["Organization Administrator"]);
    let alice = acme_caller(&mut f, "alice", &["Token User"]);
    let alice_user = f.authority.user_by_name("acme", "alice").unwrap();
    let details = UserDetails {
        email: Some(Some("alice@acme.example")),
        display_name: Some(Some("Alice Example")),
    };

    // "User: Manage" within the ceiling: an org admin over its user.
    let changed = f
        .authority
        .set_user_details(Actor::Caller(&carol), &alice_user, details)
        .unwrap();
    assert_eq!(changed.email.as_deref(), Some("alice@acme.example"));
    assert_eq!(changed.display_name.as_deref(), Some("Alice Example"));
    let session = f
        .authority
        .login(LoginEndpoint::Tenant, "acme", "alice", PASSWORD, None, HOME)
        .unwrap();
    let again = f
        .authority
        .authenticate(&session.access_token, HOME)
        .unwrap();
    let claims = f.authority.identity(&again).unwrap();
    assert_eq!(claims.email.as_deref(), Some("alice@acme.example"));
    assert_eq!(claims.name.as_deref(), Some("Alice Example"));

    // Without "User: Manage"; over a System Administrator; a bad address.
    let carol_user = f.authority.user_by_name("acme", "carol").unwrap();
    let refused = f
        .authority
        .set_user_details(Actor::Caller(&alice), &carol_user, details);
    assert!(
        matches!(refused, Err(DomainError::Forbidden(_))),
        "{refused:?}"
    );
    let admin_user = f
        .authority
        .user_by_name(PROVIDER_ORG, ADMINISTRATOR)
        .unwrap();
    let refused = f
        .authority
        .set_user_details(Actor::Caller(&carol), &admin_user, details);
    assert!(
        matches!(refused, Err(DomainError::Forbidden(_))),
        "{refused:?}"
    );
    let bad = UserDetails {
        email: Some(Some("no address")),
        display_name: None,
    };
    let refused = f
        .authority
        .set_user_details(Actor::Operator, &admin_user, bad);
    assert!(
        matches!(refused, Err(DomainError::Invalid(_))),
        "{refused:?}"
    );

    // The operator sets the administrator's; `Some(None)` removes one.
    let admin = f
        .authority
        .set_user_details(Actor::Operator, &admin_user, details)
        .unwrap();
    assert_eq!(admin.display_name.as_deref(), Some("Alice Example"));
    let cleared = f
        .authority
        .set_user_details(
            Actor::Operator,
            &admin,
            UserDetails {
                email: Some(None),
                display_name: None,
            },
        )
        .unwrap();
    assert_eq!(cleared.email, None);
    assert_eq!(cleared.display_name.as_deref(), Some("Alice Example"));

    let events = f
        .authority
        .events_for_operator(
            None,
            EventFilter {
                kind: Some("user.update".into()),
                limit: 10,
                ..EventFilter::default()
            },
        )
        .unwrap();
    assert_eq!(events.len(), 3, "one event per change made: {events:?}");
}

fn the_operator_resets_a_password_and_every_session_ends(backend: Backend) {
    let mut f = Fixture::new(backend);
    let before = f.admin_login(HOME).unwrap();
    let admin = f
        .authority
        .authenticate(&before.access_token, HOME)
        .unwrap();
    f.authority
        .set_password(
            Actor::Operator,
            PasswordTarget::User(&admin.account.user_id),
            "a brand new password",
        )
        .unwrap();
    assert!(f.admin_login(HOME).is_err(), "the old password");
    f.authority
        .login(
            LoginEndpoint::Provider,
            PROVIDER_ORG,
            ADMINISTRATOR,
            "a brand new password",
            None,
            HOME,
        )
        .unwrap();
    assert!(
        f.authority
            .authenticate(&before.access_token, HOME)
            .is_err(),
        "the session opened before the reset"
    );
    // The operator has no password of its own.
    let own = f.authority.set_password(
        Actor::Operator,
        PasswordTarget::Me { current: PASSWORD },
        "a brand new password",
    );
    assert!(matches!(own, Err(DomainError::Invalid(_))));
}

fn a_lost_key_file_is_never_replaced_silently_but_on_request_and_a_reseal_follows(
    backend: Backend,
) {
    let f = Fixture::new(backend);
    let lost: Arc<MemoryKek> = Arc::new(MemoryKek::default());
    let mut admin = Authority::open(
        f.database.clone(),
        settings(),
        ambient(&f.clock),
        lost.clone(),
    )
    .unwrap();
    // Without the KEK: no rotation, and no start makes keys in its place.
    assert!(admin.rotate_signing_keys(KeyRotation::AtOnce).is_err());
    let refused = Authority::start(
        f.database.clone(),
        settings(),
        ambient(&f.clock),
        None,
        lost.clone(),
    );
    assert!(matches!(refused, Err(DomainError::Invalid(ref why)) if why.contains("no key file")));
    assert!(lost.load().unwrap().is_none(), "no KEK made in its place");
    // Asked for: new keys under a new KEK, the old ones retired.
    let replacement: Arc<MemoryKek> = Arc::new(MemoryKek::default());
    let (keys, kek_id) = admin
        .replace_signing_keys_under_new_kek(&*replacement)
        .unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(replacement.load().unwrap().unwrap().id(), kek_id);
    let (mut restarted, _) = Authority::start(
        f.database.clone(),
        settings(),
        ambient(&f.clock),
        None,
        replacement.clone(),
    )
    .unwrap();
    assert_eq!(
        restarted.jwks().unwrap()["keys"].as_array().unwrap().len(),
        2,
        "only the new pair"
    );
    // The old KEK opens nothing in force now.
    assert!(Authority::start(
        f.database.clone(),
        settings(),
        ambient(&f.clock),
        None,
        tokens::sealing::test_store(),
    )
    .is_err());
    // A reseal rewrites the keys in force; the retired ones it cannot open stay.
    let next = MemoryKek::default();
    let report = restarted.reseal_signing_keys(&next).unwrap();
    assert_eq!(report.keys, 2);
    assert_eq!(report.from, vec![kek_id]);
    let events = f
        .authority
        .events_for_operator(
            None,
            EventFilter {
                limit: 10,
                ..EventFilter::default()
            },
        )
        .unwrap();
    assert!(events.iter().any(|(_, e)| e.kind == "key.reseal"));
}

fn outside_its_networks_a_token_answers_as_an_unknown_one_even_once_expired(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let home = HOME.to_string();
    let bound = [home.clone()];
    let created = f
        .authority
        .create_api_token(
            Actor::Caller(&admin),
            &admin.account.user_id,
            NewApiToken {
                bound_cidrs: &bound,
                ..new_token("ci", Some("30m"))
            },
            None,
        )
        .unwrap();
    let host_width = if HOME.is_ipv4() { 32 } else { 128 };
    assert_eq!(created.bound_cidrs, [format!("{home}/{host_width}")]);
    let secret = created.secret.reveal().to_string();
    let mut exchange = |client| {
        f.authority
            .exchange_api_token(
                &secret,
                ExchangeAudience::Provider,
                &ExchangeRequest::default(),
                client,
            )
            .and_then(Committing::wait)
            .map(|issued| issued.expires_in)
    };
    assert!(exchange(HOME).is_ok(), "from its network");
    assert!(matches!(
        exchange(ELSEWHERE),
        Err(DomainError::InvalidGrant(UNKNOWN))
    ));
    f.clock.advance(1800);
    assert!(
        matches!(
            exchange(HOME),
            Err(DomainError::InvalidGrant("the API token has expired"))
        ),
        "inside, the truth"
    );
    assert!(
        matches!(exchange(ELSEWHERE), Err(DomainError::InvalidGrant(UNKNOWN))),
        "outside, not even that it expired"
    );
}

const UNKNOWN: &str = "the API token is invalid or has been revoked";

/// Another node serving the same database: a process of its own, with the
/// same key file.
fn other_node(f: &Fixture, settings: Settings) -> Authority {
    Authority::start(
        f.database.clone(),
        settings,
        ambient(&f.clock),
        None,
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap()
    .0
}

/// An ES256 DPoP proof by a fixed key (p256, not the ring code that
/// verifies it), for `htm` at `path` of the test issuer, with `extra`
/// claims.
fn dpop_proof(htm: &str, path: &str, jti: &str, iat: i64, extra: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let header = serde_json::json!({
        "typ": "dpop+jwt",
        "alg": "ES256",
        "jwk": {
            "kty": "EC", "crv": "P-256",
            "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap()),
        },
    });
    let mut claims = serde_json::json!({
        "jti": jti, "htm": htm, "htu": format!("https://tokend.test{path}"), "iat": iat,
    });
    if let serde_json::Value::Object(extra) = extra {
        for (name, value) in extra {
            claims[name] = value;
        }
    }
    let signed = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature: p256::ecdsa::Signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(signature.to_bytes()))
}

const TOKEN_PATH: &str = "/oauth/provider/token";

fn a_dpop_proof_used_on_one_node_is_refused_on_another_until_forgotten(backend: Backend) {
    let mut f = Fixture::new(backend);
    let secret = f.admin_token("ci", "1h").secret;
    let mut node_b = other_node(&f, settings());
    let now = f.clock.now();
    let exchange = |node: &mut Authority, proof: &str| {
        let checked = node.check_token_request_proof(proof, "POST", TOKEN_PATH)?;
        let request = ExchangeRequest {
            dpop: Some(&checked),
            ..ExchangeRequest::default()
        };
        node.exchange_api_token(secret.reveal(), ExchangeAudience::Provider, &request, HOME)
            .and_then(|issued| issued.wait())
    };
    fn replayed<T>(result: Result<T, DomainError>, what: &str) {
        match result {
            Err(DomainError::Dpop(DpopRefusal::InvalidProof(why))) => {
                assert!(why.contains("used before"), "{what}: {why}")
            }
            Err(e) => panic!("{what}: {e:?}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    let proof = dpop_proof("POST", TOKEN_PATH, "j1", now, serde_json::json!({}));
    let issued = exchange(&mut f.authority, &proof).unwrap();
    assert!(issued.dpop_bound);
    replayed(
        exchange(&mut node_b, &proof),
        "the exchange's proof on node b",
    );
    replayed(exchange(&mut f.authority, &proof), "and on node a");

    // A call with the bound token: its proof is used once, on any node.
    let token = issued.access_token;
    let ath = tokens::dpop::access_token_hash(&token);
    let call = dpop_proof(
        "GET",
        "/api/tokens",
        "j2",
        now,
        serde_json::json!({ "ath": ath }),
    );
    let presented = Presented {
        token: &token,
        dpop_scheme: true,
        proof: Some(&call),
        method: "GET",
        path: "/api/tokens",
    };
    node_b.authenticate_presented(&presented, HOME).unwrap();
    replayed(
        f.authority.authenticate_presented(&presented, HOME),
        "the call's proof on node a",
    );

    // Forgotten only once no node with a clock a little behind accepts them.
    let last_accepted = now + tokens::dpop::PROOF_MAX_AGE;
    f.clock
        .jump(last_accepted + tokens::dpop::PROOFS_KEPT - now);
    assert_eq!(
        f.authority.forget_spent_proofs_and_logins().unwrap(),
        (0, 0)
    );
    f.clock.jump(1);
    assert_eq!(
        f.authority.forget_spent_proofs_and_logins().unwrap(),
        (2, 0)
    );
}

fn a_dpop_nonce_one_node_gave_is_accepted_by_another(backend: Backend) {
    let f = Fixture::new(backend);
    let required = || Settings {
        dpop_nonce: DpopNonce::Required,
        ..settings()
    };
    let (node_a, node_b) = (other_node(&f, required()), other_node(&f, required()));
    let now = f.clock.now();
    let nonce = node_a.dpop_nonce().unwrap().expect("nonces are required");
    let proof = dpop_proof(
        "POST",
        TOKEN_PATH,
        "j1",
        now,
        serde_json::json!({ "nonce": nonce }),
    );
    node_b
        .check_token_request_proof(&proof, "POST", TOKEN_PATH)
        .expect("node a's nonce, on node b");
    let bare = dpop_proof("POST", TOKEN_PATH, "j2", now, serde_json::json!({}));
    match node_b.check_token_request_proof(&bare, "POST", TOKEN_PATH) {
        Err(DomainError::Dpop(DpopRefusal::UseNonce(offered))) => {
            assert_eq!(offered, nonce, "one nonce for the window, whichever node")
        }
        other => panic!("a proof without a nonce: {other:?}"),
    }
    // An admin command checks no proof and needs no nonce key.
    assert_eq!(f.other_process().dpop_nonce().unwrap(), None);
}

/// The TOTP code of `secret` (base32, as an app is given it) at `at`.
fn totp_code(secret: &str, at: i64) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(at as u64)
        .to_string()
}

fn a_console_login_waits_on_one_node_and_completes_once_on_another(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let enrolment = f.authority.begin_second_factor(&admin).unwrap();
    f.authority
        .confirm_second_factor(&admin, &totp_code(&enrolment.secret, f.clock.now()))
        .unwrap();
    let mut node_b = other_node(&f, settings());
    let expired = |result: Result<LoginSession, DomainError>, what: &str| match result {
        Err(DomainError::Unauthenticated(why)) => assert!(why.contains("expired"), "{what}"),
        Err(e) => panic!("{what}: {e:?}"),
        Ok(_) => panic!("{what}: logged in"),
    };
    let pending = |f: &mut Fixture| match f.admin_login(HOME) {
        Err(DomainError::SecondFactorRequired(handle)) => handle,
        other => panic!(
            "a login with a second factor: {:?}",
            other.map(|s| s.session_id)
        ),
    };

    f.clock.jump(30);
    let handle = pending(&mut f);
    assert!(matches!(
        node_b.continue_login(&handle, "000000", HOME),
        Err(DomainError::InvalidSecondFactor)
    ));
    let code = totp_code(&enrolment.secret, f.clock.now());
    expired(
        node_b.continue_login(&handle, &code, ELSEWHERE),
        "from another address",
    );
    let session = node_b.continue_login(&handle, &code, HOME).unwrap();
    node_b
        .authenticate(&session.access_token, HOME)
        .expect("node b's session");
    f.clock.jump(30);
    let next = totp_code(&enrolment.secret, f.clock.now());
    expired(
        f.authority.continue_login(&handle, &next, HOME),
        "the same login again, on node a",
    );

    // Five minutes, then forgotten.
    let late = pending(&mut f);
    f.clock.jump(301);
    let later = totp_code(&enrolment.secret, f.clock.now());
    expired(node_b.continue_login(&late, &later, HOME), "too late");
    assert_eq!(node_b.forget_spent_proofs_and_logins().unwrap(), (0, 1));
}

on_every_backend!(
    first_start_happens_once,
    admin_commands_refuse_an_uninitialised_database,
    a_failed_first_start_writes_nothing,
    an_api_token_expires_at_its_lifetime_by_the_clock,
    a_remembered_access_token_stops_working_the_moment_its_session_ends,
    sessions_end_at_their_lifetime,
    token_derived_access_is_view_only_and_sees_only_its_own_tokens,
    a_lock_holds_for_one_address_and_passes_with_time,
    an_unlock_from_another_process_lifts_the_lock,
    a_rotated_key_is_published_first_signs_after_the_delay_and_old_tokens_still_verify,
    an_upgraded_database_gets_an_rsa_key_published_before_it_signs,
    a_delay_within_the_jwks_max_age_is_refused,
    a_rotation_at_once_signs_now_and_refuses_what_the_old_keys_signed,
    names_with_bidi_overrides_are_refused,
    retention_prunes_only_events_past_their_age_and_says_so,
    a_kept_account_gives_way_to_any_change_made_by_another_process,
    the_same_request_sent_again_makes_no_second_token,
    a_token_listing_by_state_splits_live_from_expired_and_revoked,
    a_tokens_reminder_is_read_back_to_be_carried_over,
    the_inventory_sorts_by_expiry_and_splits_by_state,
    a_clock_jumped_ahead_prunes_revokes_and_forgets_nothing_until_confirmed,
    a_start_far_past_the_trail_or_behind_it_is_doubted,
    tokens_made_under_a_clock_set_ahead_stop_when_it_is_set_right,
    the_size_bound_deletes_the_oldest_exchanges_and_never_a_refusal_or_a_change,
    user_details_are_changed_by_the_rules_of_user_management,
    the_operator_resets_a_password_and_every_session_ends,
    a_lost_key_file_is_never_replaced_silently_but_on_request_and_a_reseal_follows,
    outside_its_networks_a_token_answers_as_an_unknown_one_even_once_expired,
    a_dpop_proof_used_on_one_node_is_refused_on_another_until_forgotten,
    a_dpop_nonce_one_node_gave_is_accepted_by_another,
    a_console_login_waits_on_one_node_and_completes_once_on_another,
);
