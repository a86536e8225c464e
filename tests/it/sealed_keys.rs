//! Private signing keys sealed at rest, against the binary: the database
//! file copied alone, or a `tokend backup`, holds no usable private key
//! and serves nothing without the key file, and with it serves tokens that
//! verify against the JWKS; plaintext keys of an earlier version are
//! sealed in place at the next start; a key file that is missing, another,
//! or readable by others is refused; `tokend keys reseal` moves the keys
//! to a new key file while a server runs, which keeps its keys until it is
//! restarted with the new file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use p256::ecdsa::SigningKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::jwt::verify;
use crate::support::*;

/// What every sealed blob starts with.
const MAGIC: &[u8] = b"TKS1";

fn issuer(srv: &TestServer) -> String {
    format!("http://{}", srv.addr())
}

fn key_file(srv: &TestServer) -> PathBuf {
    srv.dir().join("tokend.db.key")
}

/// The KEK id of a key file, computed here as the format defines it.
fn kek_id(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("read key file");
    let encoded = text
        .trim()
        .strip_prefix("tokend-kek-v1:")
        .expect("a tokend key file");
    let key = B64.decode(encoded).expect("base64url");
    let digest = Sha256::new()
        .chain_update(b"tokend key-encryption key id\0")
        .chain_update(&key)
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Every signing key row of `db`, retired ones too: (kid, algorithm, private_key).
fn key_rows(db: &Path) -> Vec<(String, String, Vec<u8>)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the copy");
    let mut stmt = conn
        .prepare("SELECT kid, algorithm, private_key FROM signing_keys")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// The published EC public points, uncompressed (x, y).
fn published_ec_points(jwks: &Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "EC")
        .map(|k| {
            let c = |n: &str| B64.decode(k[n].as_str().unwrap()).unwrap();
            (c("x"), c("y"))
        })
        .collect()
}

/// Shows that no row of `db` holds a private key anyone can use: each is
/// a sealed blob, no blob parses as a PKCS #8 key (RSA or EC), and no 32
/// bytes of any blob are the private scalar of a published EC key.
fn assert_no_usable_private_key(db: &Path, jwks: &Value, what: &str) {
    let rows = key_rows(db);
    assert!(rows.len() >= 2, "{what}: {} keys", rows.len());
    let points = published_ec_points(jwks);
    assert!(!points.is_empty());
    for (kid, algorithm, blob) in &rows {
        assert!(
            blob.starts_with(MAGIC),
            "{what}: {kid} ({algorithm}) is not sealed"
        );
        assert!(
            ring::signature::RsaKeyPair::from_pkcs8(blob).is_err(),
            "{what}: {kid} parses as an RSA key"
        );
        assert!(
            ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                blob,
                &ring::rand::SystemRandom::new()
            )
            .is_err(),
            "{what}: {kid} parses as a PKCS #8 EC key"
        );
        for der in der_sequences(blob) {
            assert!(
                ring::signature::RsaKeyPair::from_pkcs8(der).is_err(),
                "{what}: {kid} holds an RSA key inside"
            );
            assert!(
                ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &ring::rand::SystemRandom::new()
                )
                .is_err(),
                "{what}: {kid} holds a PKCS #8 EC key inside"
            );
        }
        for window in blob.windows(32) {
            let Ok(key) = SigningKey::from_slice(window) else {
                continue;
            };
            let point = key.verifying_key().to_encoded_point(false);
            let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
            assert!(
                !points.contains(&(x, y)),
                "{what}: {kid} holds the private scalar of a published key"
            );
        }
    }
}

/// Every run of `blob` that a DER SEQUENCE header says is one, whatever
/// its offset: where a plaintext PKCS #8 key would sit inside a blob.
/// (Random ciphertext holds such a header now and then; what matters is
/// that none of them parses as a key.)
fn der_sequences(blob: &[u8]) -> Vec<&[u8]> {
    let mut found = Vec::new();
    for start in 0..blob.len() {
        let rest = &blob[start..];
        let (header, len) = match rest {
            [0x30, n, ..] if *n < 0x80 => (2, usize::from(*n)),
            [0x30, 0x81, n, ..] => (3, usize::from(*n)),
            [0x30, 0x82, hi, lo, ..] => (4, usize::from(*hi) << 8 | usize::from(*lo)),
            _ => continue,
        };
        if let Some(der) = rest.get(..header + len) {
            found.push(der);
        }
    }
    found
}

/// `tokend serve` on `db` with the environment `envs`: expected to refuse
/// to start; what it said.
fn refused_serve(db: &Path, envs: &[(&str, &str)], cwd: &Path) -> String {
    let listen = format!("127.0.0.1:{}", free_port());
    let db = db.to_string_lossy().into_owned();
    let mut all = vec![
        ("TOKEND_DB", db.as_str()),
        ("TOKEND_LISTEN", listen.as_str()),
    ];
    all.extend_from_slice(envs);
    let out = run_tokend(&["serve"], None, &all, cwd);
    assert_ne!(out.code, Some(0), "serve started: {out:#?}");
    out.stderr
}

/// An API token of the administrator.
fn admin_token(srv: &TestServer) -> String {
    let api = srv.api();
    let admin = api.admin_login();
    api.create_token(&admin.access_token, "sealed", None).secret
}

#[test]
fn a_copied_database_or_backup_alone_yields_no_usable_private_key() {
    let mut srv = TestServer::start();
    let key = key_file(&srv);
    assert_eq!(mode(&key), 0o600, "the key file is the owner's alone");
    let secret = admin_token(&srv);
    let (kid, _) = verify(
        &srv,
        &srv.api().exchange_provider(&secret).access_token,
        &issuer(&srv),
    );
    let jwks = srv.api().jwks();
    let backup = srv.dir().join("backup.db");
    srv.cli()
        .run(&["backup", backup.to_str().unwrap()], None)
        .ok("backup");
    srv.stop();
    let elsewhere = TempDir::new();
    let copy = elsewhere.path.join("tokend.db");
    std::fs::copy(srv.db(), &copy).expect("copy the database file");
    // With its write-ahead log, where the latest pages may still be.
    let wal = srv.db().with_extension("db-wal");
    if wal.exists() {
        std::fs::copy(&wal, copy.with_extension("db-wal")).expect("copy the -wal");
    }
    for (file, what) in [(&copy, "the copied database"), (&backup, "the backup")] {
        assert_no_usable_private_key(file, &jwks, what);
        // Alone, it serves nothing: no key file beside it.
        let refused = refused_serve(file, &[], &elsewhere.path);
        assert!(
            refused.contains(&kek_id(&key)) && refused.contains("no key file"),
            "{what}: {refused}"
        );
        assert!(!elsewhere.path.join("tokend.db.key").exists(), "none made");
        let check = run_tokend(
            &["--db", file.to_str().unwrap(), "check"],
            None,
            &[],
            &elsewhere.path,
        );
        check.code_is(1, "check without the key file");
        assert!(check.stdout.contains("key file:"), "{check:#?}");
    }
    // With the key file, the copy serves, signing with the same key.
    let copy_served = TestServer::config()
        .env("TOKEND_DB", copy.to_str().unwrap())
        .env("TOKEND_KEY_FILE", key.to_str().unwrap())
        .start();
    let exchanged = copy_served.api().exchange_provider(&secret).access_token;
    let (kid_copy, _) = verify(&copy_served, &exchanged, &issuer(&copy_served));
    assert_eq!(kid_copy, kid, "the copy's key, unsealed by the key file");
}

/// An ES256 key as an earlier version stored it: the plain scalar; with
/// its RFC 7638 kid.
fn plaintext_ec_key() -> (String, Vec<u8>) {
    let mut scalar = [0u8; 32];
    getrandom::getrandom(&mut scalar).unwrap();
    let key = SigningKey::from_slice(&scalar).expect("a scalar on the curve");
    let point = key.verifying_key().to_encoded_point(false);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        B64.encode(point.x().unwrap()),
        B64.encode(point.y().unwrap())
    );
    (
        B64.encode(Sha256::digest(canonical.as_bytes())),
        scalar.to_vec(),
    )
}

#[test]
fn plaintext_keys_of_an_earlier_version_are_sealed_in_place_at_start() {
    let mut srv = TestServer::start();
    let secret = admin_token(&srv);
    srv.stop();
    // The key table as a version before sealing left it: plaintext keys
    // (a retired one too), and no key file.
    let (kid, scalar) = plaintext_ec_key();
    let (retired_kid, retired_scalar) = plaintext_ec_key();
    let now = now_secs();
    {
        let conn = rusqlite::Connection::open(srv.db()).unwrap();
        conn.execute("DELETE FROM signing_keys", []).unwrap();
        let insert = "INSERT INTO signing_keys
             (kid, algorithm, private_key, created_at, activates_at, retired_at)
             VALUES (?1, 'ES256', ?2, ?3, ?3, ?4)";
        conn.execute(
            insert,
            rusqlite::params![retired_kid, retired_scalar, now - 99, now - 50],
        )
        .unwrap();
        conn.execute(
            insert,
            rusqlite::params![kid, scalar, now - 60, None::<i64>],
        )
        .unwrap();
    }
    std::fs::remove_file(key_file(&srv)).unwrap();
    srv.restart();
    let key = key_file(&srv);
    assert_eq!(mode(&key), 0o600, "made at the upgrade");
    let rows = key_rows(srv.db());
    assert!(rows.iter().any(|(k, _, _)| *k == retired_kid));
    for (k, _, blob) in &rows {
        assert!(blob.starts_with(MAGIC), "{k} sealed");
        assert!(!blob.windows(32).any(|w| w == scalar || w == retired_scalar));
    }
    // The same key signs on: nothing a verifier holds is orphaned.
    let exchanged = srv.api().exchange_provider(&secret).access_token;
    let (signed_by, _) = verify(&srv, &exchanged, &issuer(&srv));
    assert_eq!(signed_by, kid);
    // One audited write, naming the keys and the KEK, never a secret.
    let conn = rusqlite::Connection::open(srv.db()).unwrap();
    let properties: Vec<String> = conn
        .prepare("SELECT properties FROM events WHERE type = 'key.seal'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(properties.len(), 1, "{properties:?}");
    assert!(properties[0].contains(&kid) && properties[0].contains(&kek_id(&key)));
    assert!(!properties[0].contains(&B64.encode(&scalar)));
    // And the next start seals nothing more.
    srv.restart();
    let seals: i64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE type = 'key.seal'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seals, 1);
}

#[test]
fn a_missing_other_or_open_key_file_is_refused() {
    let mut srv = TestServer::start();
    srv.stop();
    let key = key_file(&srv);
    let expected = kek_id(&key);
    // Another KEK.
    let other = srv.dir().join("other.key");
    std::fs::write(&other, format!("tokend-kek-v1:{}\n", B64.encode([9u8; 32]))).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let refused = refused_serve(
        srv.db(),
        &[("TOKEND_KEY_FILE", other.to_str().unwrap())],
        srv.dir(),
    );
    assert!(
        refused.contains(&expected) && refused.contains(other.to_str().unwrap()),
        "names the KEK expected and the file: {refused}"
    );
    let check = srv
        .cli()
        .run(&["--key-file", other.to_str().unwrap(), "check"], None);
    check.code_is(1, "check with another key file");
    assert!(check.stdout.contains("does not open"), "{check:#?}");
    // Missing: refused, and no new key is made in its place.
    let gone = srv.dir().join("gone.key");
    let refused = refused_serve(
        srv.db(),
        &[("TOKEND_KEY_FILE", gone.to_str().unwrap())],
        srv.dir(),
    );
    assert!(
        refused.contains(&expected) && refused.contains("no key file"),
        "{refused}"
    );
    assert!(!gone.exists(), "no key file made for sealed keys");
    // Readable by the group: refused as ssh refuses such a key.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let refused = refused_serve(srv.db(), &[], srv.dir());
    assert!(refused.contains("chmod 600"), "{refused}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let check = srv
        .cli()
        .run(&["check"], None)
        .ok("check with the key file");
    assert!(check.stdout.contains(&expected), "{check:#?}");
    srv.restart();
    srv.api().jwks();
}

#[test]
fn a_reseal_moves_the_keys_to_a_new_key_file_while_the_server_runs() {
    let cfg = TestServer::config().env("TOKEND_JWKS_MAX_AGE", "1s");
    let mut srv = cfg.clone().start();
    let old_key = key_file(&srv);
    let secret = admin_token(&srv);
    let before = srv.api().exchange_provider(&secret).access_token;
    let (old_kid, _) = verify(&srv, &before, &issuer(&srv));
    let new_key = srv.dir().join("next.key");
    let resealed = srv
        .cli()
        .run(
            &[
                "keys",
                "reseal",
                "--new-key-file",
                new_key.to_str().unwrap(),
            ],
            None,
        )
        .ok("keys reseal");
    assert_eq!(resealed.stdout.trim(), kek_id(&new_key));
    assert!(resealed.stderr.contains("TOKEND_KEY_FILE"), "{resealed:#?}");
    assert_eq!(mode(&new_key), 0o600);
    // Never over an existing file.
    let again = srv.cli().run(
        &["key", "reseal", "--new-key-file", new_key.to_str().unwrap()],
        None,
    );
    again.code_is(1, "reseal over an existing file");
    for (_, _, blob) in key_rows(srv.db()) {
        assert_eq!(&blob[4..12], hex_bytes(&kek_id(&new_key)));
    }
    // The running server keeps the keys it holds.
    let during = srv.api().exchange_provider(&secret).access_token;
    assert_eq!(verify(&srv, &during, &issuer(&srv)).0, old_kid);
    srv.api().admin_login();
    // The old key file opens nothing now; the CLI refuses to seal under it.
    srv.cli()
        .run(&["check"], None)
        .code_is(1, "check with the old key file");
    let refused = rotate(&srv, &[]);
    refused.code_is(1, "rotate under the old key file");
    assert!(refused.stderr.contains(&kek_id(&new_key)), "{refused:#?}");
    let new_file = new_key.to_str().unwrap();
    srv.cli()
        .run(&["--key-file", new_file, "check"], None)
        .ok("check with the new key file");
    let rotated = rotate(&srv, &["--key-file", new_file]).ok("rotate under the new key file");
    let new_kid = rotated.stdout.lines().next().unwrap().to_owned();
    // The server cannot open the new key: it says so, leaves it out of
    // the JWKS and signs on with the old.
    let jwks = srv.api().jwks();
    assert!(!jwks.to_string().contains(&new_kid), "{jwks}");
    assert!(
        srv.wait_for_log(
            &format!("signing key {new_kid} is not used"),
            Duration::from_secs(10)
        ),
        "{}",
        srv.log()
    );
    std::thread::sleep(Duration::from_secs(3));
    let still = srv.api().exchange_provider(&secret).access_token;
    assert_eq!(verify(&srv, &still, &issuer(&srv)).0, old_kid);
    // Restarted with the old key file: refused, naming the new KEK.
    srv.stop();
    let refused = refused_serve(srv.db(), &[], srv.dir());
    assert!(refused.contains(&kek_id(&new_key)), "{refused}");
    assert!(old_key.exists());
    // Restarted with the new one: the new key signs; the old one's tokens verify.
    srv.set_config(cfg.env("TOKEND_KEY_FILE", new_file));
    srv.restart();
    let after = srv.api().exchange_provider(&secret).access_token;
    assert_eq!(verify(&srv, &after, &issuer(&srv)).0, new_kid);
    assert_eq!(verify(&srv, &still, &issuer(&srv)).0, old_kid);
    srv.api()
        .get(
            "/api/tokens",
            &[("Authorization", &format!("Bearer {still}"))],
        )
        .assert_status(200, "a token the old key signed");
}

/// `tokend key rotate --delay 2s` with the server's JWKS max-age (1 s),
/// after the global options `options`.
fn rotate(srv: &TestServer, options: &[&str]) -> CliOutput {
    let db = srv.db().to_str().unwrap();
    let mut args = vec!["--db", db];
    args.extend_from_slice(options);
    args.extend_from_slice(&["key", "rotate", "--delay", "2s"]);
    run_tokend(&args, None, &[("TOKEND_JWKS_MAX_AGE", "1s")], srv.dir())
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_restore_without_its_key_file_says_so_and_a_lost_one_is_replaced_on_request() {
    let mut srv = TestServer::start();
    let secret = admin_token(&srv);
    let backup = srv.dir().join("backup.db");
    srv.cli()
        .run(&["backup", backup.to_str().unwrap()], None)
        .ok("backup");
    srv.stop();
    let key = key_file(&srv);
    let expected = kek_id(&key);
    std::fs::remove_file(&key).unwrap();
    let restored = srv
        .cli()
        .run(
            &["restore", backup.to_str().unwrap(), "--accept-resurrection"],
            None,
        )
        .ok("restore");
    assert!(
        restored.stdout.contains("warning:") && restored.stdout.contains(&expected),
        "{restored:#?}"
    );
    let refused = refused_serve(srv.db(), &[], srv.dir());
    assert!(refused.contains(&expected), "{refused}");
    // The key file is lost for good: new keys under a new one, on request.
    let new_key = srv.dir().join("replacement.key");
    let new_file = new_key.to_str().unwrap();
    srv.cli()
        .run(
            &["key", "rotate", "--now", "--new-key-file", new_file],
            None,
        )
        .ok("rotate --now --new-key-file");
    assert_eq!(mode(&new_key), 0o600);
    srv.set_config(TestServer::config().env("TOKEND_KEY_FILE", new_file));
    srv.restart();
    // The database is whole: the API token exchanges, signed by a new key.
    let exchanged = srv.api().exchange_provider(&secret).access_token;
    verify(&srv, &exchanged, &issuer(&srv));
}
