//! Backups in the domain, on database files and a clock the tests set: a
//! copy taken by the store, changes made to the live database after it,
//! the live trail read back as `tokend audit --format json-lines` prints
//! it, and a restore's replay on the copy, one event kind at a time; the
//! stream's refusals; health; the timer's names.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::ambient::{ManualClock, OsRandom};
use crate::domain::records::{EventFilter, Inspection, ServiceAccountStatus};
use crate::domain::*;
use crate::store::SqliteDatabase;

const START: i64 = 1_800_000_000;
const PASSWORD: &str = "correct horse battery";
const HERE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

fn settings() -> Settings {
    Settings {
        issuer: "https://tokend.test".into(),
        access_token_lifetime: Duration::from_secs(30 * 60),
        operator: Some("cli:test".into()),
        audit_retention: None,
        audit_max_bytes: None,
        audience: None,
        default_audience: Vec::new(),
        jwks_max_age: DEFAULT_JWKS_MAX_AGE,
        key_publish_delay: DEFAULT_KEY_PUBLISH_DELAY,
        dpop_nonce: Default::default(),
    }
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!(
            "tokend-backup-{name}-{}-{}",
            std::process::id(),
            START
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(path: &Path, clock: &Arc<ManualClock>) -> Authority {
    let ambient = Ambient {
        clock: clock.clone(),
        random: Arc::new(OsRandom),
    };
    let database = Arc::new(SqliteDatabase::create_or_open(path).unwrap());
    Authority::start(
        database,
        settings(),
        ambient,
        Some(PASSWORD),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap()
    .0
}

fn login(authority: &mut Authority, org: &str, user: &str) -> (LoginSession, Caller) {
    let endpoint = if org == PROVIDER_ORG {
        LoginEndpoint::Provider
    } else {
        LoginEndpoint::Tenant
    };
    let session = authority
        .login(endpoint, org, user, PASSWORD, None, HERE)
        .unwrap();
    let caller = authority.authenticate(&session.access_token, HERE).unwrap();
    (session, caller)
}

fn add_user(authority: &mut Authority, name: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    authority
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
        .unwrap()
        .id
}

fn token(authority: &mut Authority, caller: &Caller, name: &str) -> CreatedApiToken {
    authority
        .create_api_token(
            Actor::Caller(caller),
            &caller.account.user_id,
            NewApiToken {
                name,
                ttl: None,
                scope: TokenScope::AllRoles,
                openid: false,
                request_id: None,
                bound_cidrs: &[],
            },
            None,
        )
        .unwrap()
}

/// A service account of acme with its first token, through the device grant.
fn service_account(
    authority: &mut Authority,
    admin: &Caller,
    name: &str,
) -> (String, CreatedApiToken) {
    let account = authority
        .register_service_account(
            admin,
            ExchangeAudience::Tenant("acme"),
            NewServiceAccountRequest {
                name,
                software_id: "backup-test",
                software_version: None,
                client_uri: None,
                role: Some("Token User"),
                id_token_alg: None,
            },
        )
        .unwrap();
    let codes = authority
        .authorize_device(&account.id, ExchangeAudience::Tenant("acme"), HERE)
        .unwrap();
    authority
        .decide_device(Actor::Operator, &codes.user_code, true)
        .unwrap();
    let (created, access) = authority
        .exchange_device_code(
            &account.id,
            &codes.device_code,
            ExchangeAudience::Tenant("acme"),
            &[],
            HERE,
        )
        .unwrap();
    access.wait().unwrap();
    (account.id, created)
}

/// Refreshes a service account's token: the token is replaced.
fn refresh(authority: &mut Authority, secret: &str) -> Result<IssuedAccess, DomainError> {
    let request = ExchangeRequest {
        client_id: None,
        resources: Vec::new(),
        dpop: None,
    };
    authority
        .exchange_api_token(secret, ExchangeAudience::Tenant("acme"), &request, HERE)
        .and_then(|issued| issued.wait())
}

/// A backup of `live` at `target`, as `tokend backup` takes one.
fn back_up(live: &mut Authority, source: &Path, target: &Path) {
    let copy = SqliteDatabase::begin_backup(source, target).unwrap();
    let event = live.backup_event("copy.db", copy.point()).unwrap();
    copy.finish(&event).unwrap();
    live.record_backup(event).unwrap();
}

/// The live trail as `tokend audit --format json-lines` prints it.
fn stream_of(live: &Authority) -> String {
    let every = EventFilter {
        after: Some(0),
        limit: 10_000,
        ..EventFilter::default()
    };
    live.events_for_operator(None, every)
        .unwrap()
        .iter()
        .map(|(_, event)| format!("{}\n", event.to_json()))
        .collect()
}

/// A look at a database file a few minutes after `START`.
fn inspect(path: &Path) -> Inspection {
    SqliteDatabase::inspect(path, START + 300).unwrap()
}

#[test]
fn a_restore_replays_every_revocation_after_the_backup_point() {
    let dir = Dir::new("replay");
    let clock = Arc::new(ManualClock::at(START));
    let live_path = dir.0.join("tokend.db");
    let mut live = open(&live_path, &clock);
    live.add_org(Actor::Operator, "acme").unwrap();
    let vmc = live.add_service(Actor::Operator, "vmc", &[]).unwrap();
    let probe = live
        .add_introspection_client(Actor::Operator, &vmc)
        .unwrap();
    add_user(&mut live, "alice", &["Token User"]);
    let bob = add_user(&mut live, "bob", &["Token User"]);
    let carol = add_user(&mut live, "carol", &["Token User"]);
    let dave = add_user(&mut live, "dave", &["Token User"]);
    let (_, admin) = login(&mut live, PROVIDER_ORG, ADMINISTRATOR);
    let (alice_session, alice) = login(&mut live, "acme", "alice");
    let (dave_session, _) = login(&mut live, "acme", "dave");
    let kept = token(&mut live, &alice, "kept");
    let by_cli = token(&mut live, &alice, "by-cli");
    let presented = token(&mut live, &alice, "presented");
    let client = live
        .register_oauth_client(&alice, ExchangeAudience::Tenant("acme"), "ci", None)
        .unwrap();
    let (of_client, access) = live
        .exchange_jwt_bearer(
            &client.id,
            &alice_session.access_token,
            ExchangeAudience::Tenant("acme"),
            &[],
            HERE,
        )
        .unwrap();
    access.wait().unwrap();
    let access = refresh(&mut live, kept.secret.reveal())
        .unwrap()
        .access_token;
    let (rotating, rotating_first) = service_account(&mut live, &admin, "rotating");
    let (reused, reused_first) = service_account(&mut live, &admin, "reused");
    let (revoked, revoked_first) = service_account(&mut live, &admin, "revoked");
    let (deleted, _) = service_account(&mut live, &admin, "deleted");
    let old_keys: Vec<String> = live
        .signing_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();

    let copy = dir.0.join("copy.db");
    clock.advance(60);
    back_up(&mut live, &live_path, &copy);
    clock.advance(60);

    // After the backup point, on the live database.
    live.revoke_api_token(Actor::Operator, &by_cli.id).unwrap();
    live.revoke_presented_token(presented.secret.reveal(), HERE)
        .unwrap();
    live.revoke_presented_token(&access, HERE).unwrap();
    live.delete_oauth_client(&alice, &client.id).unwrap();
    refresh(&mut live, rotating_first.secret.reveal()).unwrap();
    refresh(&mut live, reused_first.secret.reveal()).unwrap();
    assert!(
        refresh(&mut live, reused_first.secret.reveal()).is_err(),
        "a replayed token"
    );
    live.revoke_service_account(Actor::Operator, &revoked)
        .unwrap();
    live.delete_service_account(Actor::Operator, &deleted)
        .unwrap();
    let bob_user = live.user_by_id(Actor::Operator, &bob).unwrap();
    live.set_user_enabled(Actor::Caller(&admin), &bob_user, false)
        .unwrap();
    let carol_user = live.user_by_id(Actor::Operator, &carol).unwrap();
    live.set_user_enabled(Actor::Operator, &carol_user, false)
        .unwrap();
    live.set_user_enabled(Actor::Operator, &carol_user, true)
        .unwrap();
    live.set_password(
        Actor::Caller(&admin),
        PasswordTarget::User(&dave),
        "a new horse battery",
    )
    .unwrap();
    live.logout(&alice).unwrap();
    live.revoke_introspection_client(Actor::Operator, &probe.client_id, None)
        .unwrap();
    live.rotate_signing_keys(KeyRotation::AtOnce).unwrap();
    let made_after = token(&mut live, &admin, "made-after");
    let gone_anyway = token(&mut live, &admin, "gone-anyway");
    live.revoke_api_token(Actor::Operator, &gone_anyway.id)
        .unwrap();
    live.add_org(Actor::Operator, "zeta").unwrap();

    let point = RestorePoint::of(&inspect(&copy));
    assert_eq!(point.file.as_deref(), Some("copy.db"));
    assert_eq!(point.taken_at_ms, Some((START + 60) * 1000));
    let stream = AuditStream::read(stream_of(&live).as_bytes(), &point).unwrap();
    assert!(
        stream.after() > stream.events().len(),
        "uses and the live record of the backup are counted, not kept"
    );
    assert!(stream.events().iter().all(|e| e.kind != "backup.create"));

    clock.advance(60);
    let mut restored = Authority::open(
        Arc::new(SqliteDatabase::open_existing(&copy).unwrap()),
        settings(),
        Ambient {
            clock: clock.clone(),
            random: Arc::new(OsRandom),
        },
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    let report = restored
        .restore(RestoreChoice::Replay(&stream), &point)
        .unwrap();

    // by-cli, presented, and the tokens the two refreshes replaced; the
    // client's goes with its client, revoked's with its account.
    assert_eq!(report.api_tokens_revoked, 4, "{report:#?}");
    assert_eq!(report.access_tokens_revoked, 1);
    assert_eq!(report.oauth_clients_deleted, 1);
    assert_eq!(
        report.service_accounts_revoked, 2,
        "revoked, and the reused"
    );
    assert_eq!(report.service_accounts_deleted, 1);
    assert_eq!(report.users_disabled, 2, "bob, and carol before her enable");
    assert_eq!(report.users_enabled, 1);
    assert_eq!(
        report.sessions_ended, 2,
        "dave's by the password change, alice's logout"
    );
    assert_eq!(report.introspection_clients_revoked, 1);
    assert!(report.keys_rotated);
    assert_eq!(report.passwords_changed, ["dave@acme"]);
    assert_eq!(report.not_replayed.get("org.create"), Some(&1));
    let made: Vec<&str> = report
        .tokens_made_after
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(made.len(), 2, "{made:?}");
    for id in [&made_after.id, &rotated_token_id(&live, &rotating)] {
        assert!(
            made.iter().any(|m| m.contains(id.as_str())),
            "{id} in {made:?}"
        );
    }
    assert!(
        !made.iter().any(|m| m.contains(&gone_anyway.id)),
        "a token made and revoked after the point is not missed"
    );
    assert!(
        !made
            .iter()
            .any(|m| m.contains(&rotated_token_id_any(&live, &reused))),
        "nor one revoked with its service account"
    );

    let token_live = |a: &Authority, id: &str| {
        a.db()
            .api_token(id)
            .unwrap()
            .is_some_and(|t| t.revoked_at.is_none())
    };
    assert!(token_live(&restored, &kept.id), "left alone");
    for (what, id) in [
        ("by the CLI", &by_cli.id),
        ("at the revocation endpoint", &presented.id),
        ("by the client's deletion", &of_client.id),
        ("by a rotation", &rotating_first.id),
        ("by a replayed reuse", &reused_first.id),
        ("with its account", &revoked_first.id),
    ] {
        assert!(!token_live(&restored, id), "revoked {what}");
    }
    let jti = jti_of(&access);
    assert!(restored.db().access_token_revoked(&jti).unwrap());
    assert!(restored
        .db()
        .oauth_client(&client.id)
        .unwrap()
        .unwrap()
        .deleted_at
        .is_some());
    assert_eq!(
        restored.service_account_by_id(&revoked).unwrap().status,
        ServiceAccountStatus::Created
    );
    assert!(restored.service_account_by_id(&deleted).is_err(), "deleted");
    assert!(restored.user_by_id(Actor::Operator, &bob).unwrap().disabled);
    assert!(
        !restored
            .user_by_id(Actor::Operator, &carol)
            .unwrap()
            .disabled
    );
    assert!(restored
        .db()
        .session(&dave_session.session_id)
        .unwrap()
        .unwrap()
        .ended_at
        .is_some());
    assert!(restored
        .db()
        .session(&alice_session.session_id)
        .unwrap()
        .unwrap()
        .ended_at
        .is_some());
    assert!(restored
        .db()
        .introspection_client(&probe.client_id)
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let signing: Vec<String> = restored
        .signing_keys()
        .unwrap()
        .into_iter()
        .filter(|k| k.signs)
        .map(|k| k.kid)
        .collect();
    assert!(
        signing.iter().all(|kid| !old_keys.contains(kid)),
        "no key of the backup signs: {signing:?}"
    );

    // Every replay names the event it replays; the restore is recorded.
    let events = restored
        .events_for_operator(
            None,
            EventFilter {
                limit: 100,
                ..EventFilter::default()
            },
        )
        .unwrap();
    let ids: Vec<&str> = stream.events().iter().map(|e| e.id.as_str()).collect();
    let replays: Vec<_> = events
        .iter()
        .filter_map(|(_, e)| e.properties["replays"].as_str())
        .collect();
    assert_eq!(
        replays.len(),
        16,
        "one event per change replayed: {replays:?}"
    );
    assert!(replays.iter().all(|id| ids.contains(id)));
    let (_, newest) = &events[0];
    assert_eq!(newest.kind, "backup.restore");
    assert_eq!(newest.properties["mode"], "audit-stream");
    assert_eq!(newest.properties["restored"]["api_tokens_revoked"], 4);
}

/// The `jti` of an access token, read without checking it.
fn jti_of(jwt: &str) -> String {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["jti"].as_str().unwrap().to_string()
}

/// The newest token a service account was given on `live`, revoked or not.
fn rotated_token_id_any(live: &Authority, account: &str) -> String {
    live.db()
        .api_tokens(&crate::domain::records::ApiTokenFilter {
            owner_id: Some(account.to_string()),
            include_revoked: true,
            ..Default::default()
        })
        .unwrap()
        .tokens
        .into_iter()
        .last()
        .unwrap()
        .id
}

/// The id of the token a service account holds now on `live`.
fn rotated_token_id(live: &Authority, account: &str) -> String {
    live.db()
        .api_tokens(&crate::domain::records::ApiTokenFilter {
            owner_id: Some(account.to_string()),
            ..Default::default()
        })
        .unwrap()
        .tokens
        .into_iter()
        .find(|t| t.revoked_at.is_none())
        .unwrap()
        .id
}

#[test]
fn revoke_live_ends_every_token_and_session_and_accepting_changes_nothing() {
    let dir = Dir::new("revoke-live");
    let clock = Arc::new(ManualClock::at(START));
    let path = dir.0.join("tokend.db");
    let mut live = open(&path, &clock);
    live.add_org(Actor::Operator, "acme").unwrap();
    add_user(&mut live, "alice", &["Token User"]);
    let (session, alice) = login(&mut live, "acme", "alice");
    for n in 0..3 {
        token(&mut live, &alice, &format!("t{n}"));
    }
    let copy = dir.0.join("copy.db");
    back_up(&mut live, &path, &copy);
    let as_is = dir.0.join("as-is.db");
    std::fs::copy(&copy, &as_is).unwrap();
    let point = RestorePoint::of(&inspect(&copy));

    let ambient = || Ambient {
        clock: clock.clone(),
        random: Arc::new(OsRandom),
    };
    let mut restored = Authority::open(
        Arc::new(SqliteDatabase::open_existing(&copy).unwrap()),
        settings(),
        ambient(),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    let report = restored.restore(RestoreChoice::RevokeLive, &point).unwrap();
    assert_eq!(report.api_tokens_revoked, 3);
    assert_eq!(report.sessions_ended, 1);
    let counts = inspect(&copy).counts.unwrap();
    assert_eq!((counts.api_tokens_live, counts.api_tokens_revoked), (0, 3));
    assert_eq!(counts.sessions_live, 0);
    assert!(restored.authenticate(&session.access_token, HERE).is_err());

    let mut accepted = Authority::open(
        Arc::new(SqliteDatabase::open_existing(&as_is).unwrap()),
        settings(),
        ambient(),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    let report = accepted
        .restore(RestoreChoice::AcceptResurrection, &point)
        .unwrap();
    assert_eq!(report.replayed(), 0);
    let counts = inspect(&as_is).counts.unwrap();
    assert_eq!((counts.api_tokens_live, counts.sessions_live), (3, 1));
}

#[test]
fn a_stream_is_read_strictly_and_must_hold_the_backup_point() {
    let event = |n: u32, kind: &str| {
        let mut event = Event::new(
            format!("01a00000-0000-7000-8000-00000000000{n}"),
            i64::from(n) * 1_000,
            kind,
            "success",
        );
        event.target_type = Some("api_token".into());
        event.target_id = Some("t".into());
        event.to_json().to_string()
    };
    let (a, b, c, x) = (
        event(1, "token.create"),
        event(2, "token.revoke"),
        event(3, "user.disable"),
        event(4, "token.exchange"),
    );
    let at = |n: u32| RestorePoint {
        event_id: Some(format!("01a00000-0000-7000-8000-00000000000{n}")),
        event_at_ms: Some(i64::from(n) * 1_000),
        ..RestorePoint::default()
    };
    let kinds = |stream: &AuditStream| -> Vec<String> {
        stream.events().iter().map(|e| e.kind.clone()).collect()
    };

    let text = format!("{a}\n{b}\n\n{b}\n{x}\n{c}\n");
    let stream = AuditStream::read(text.as_bytes(), &at(1)).unwrap();
    assert_eq!(
        kinds(&stream),
        ["token.revoke", "user.disable"],
        "a repeat and a use dropped"
    );
    assert_eq!(stream.after(), 4, "lines after the point");
    let stream = AuditStream::read(text.as_bytes(), &RestorePoint::default()).unwrap();
    assert_eq!(
        kinds(&stream),
        ["token.create", "token.revoke", "user.disable"]
    );
    let stream = AuditStream::read(text.as_bytes(), &at(3)).unwrap();
    assert!(stream.events().is_empty());

    let missing = AuditStream::read(text.as_bytes(), &at(9))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("does not hold the backup point"),
        "{missing}"
    );
    assert!(
        missing.contains("runs from 1970-01-01T00:00:01.000Z to 1970-01-01T00:00:03.000Z"),
        "{missing}"
    );
    let broken = format!("{a}\n{b}\n{{\"id\": \"half a line\n");
    let refused = AuditStream::read(broken.as_bytes(), &at(1))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("line 3"), "{refused}");
    let not_an_event = format!("{a}\n{{\"type\": \"token.revoke\"}}\n");
    let refused = AuditStream::read(not_an_event.as_bytes(), &RestorePoint::default())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("line 2"), "{refused}");

    let back = Event::from_json(&serde_json::from_str(&b).unwrap()).unwrap();
    assert_eq!(
        back.to_json().to_string(),
        b,
        "an event reads back as it was written"
    );
}

#[test]
fn health_names_what_is_wrong() {
    let healthy = Inspection {
        schema_version: Some(16),
        known_schema_version: 16,
        integrity: vec!["ok".into()],
        foreign_key_violations: Some(0),
        counts: Some(crate::domain::records::DatabaseCounts {
            has_provider: true,
            ..Default::default()
        }),
        ..Inspection::default()
    };
    assert!(health_problems(&healthy).is_empty());
    let sick = Inspection {
        schema_version: Some(17),
        integrity: vec![
            "*** in database main ***".into(),
            "Page 7: never used".into(),
        ],
        foreign_key_violations: Some(2),
        counts: Some(Default::default()),
        errors: vec!["counts: database disk image is malformed".into()],
        ..healthy.clone()
    };
    assert_eq!(
        health_problems(&sick),
        [
            "integrity check: *** in database main ***; Page 7: never used",
            "foreign key check: 2 rows refer to rows that do not exist",
            "schema version 17 is newer than this tokend knows (16)",
            "no System org: no first start initialised this database",
            "counts: database disk image is malformed",
        ]
    );
}

#[test]
fn the_timers_backups_are_named_by_the_time_and_only_they_are_deleted() {
    assert_eq!(
        backup_file_name(1_796_598_000),
        "tokend-20261206T230000Z.db"
    );
    assert_eq!(
        backup_file_name(1_796_598_000 + 3_599),
        "tokend-20261206T235959Z.db"
    );
    let names: Vec<String> = [
        "tokend-20261201T000000Z.db",
        "notes.txt",
        "tokend-20261203T000000Z.db",
        "tokend-manual.db",
        "tokend-20261202T000000Z.db",
        "tokend-20261204T000000Z.db.partial-77",
        "tokend-2026120XT000000Z.db",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        backups_beyond(&names, 1),
        ["tokend-20261201T000000Z.db", "tokend-20261202T000000Z.db"]
    );
    assert!(backups_beyond(&names, 3).is_empty());
}
