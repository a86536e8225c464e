//! Signing keys, their generation, and the readiness probe.

use zeroize::Zeroizing;

use super::Fixture;
use crate::domain::records::SigningKeyRecord;
use crate::domain::storage::{HealthWrites, KeyReads, KeyWrites, StoreError};

fn key(kid: &str, algorithm: &str, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        algorithm: algorithm.into(),
        private_key: Zeroizing::new(format!("private {kid}").into_bytes()),
        created_at,
        activates_at: created_at + 5,
    }
}

fn kids(keys: &[SigningKeyRecord]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

fn keys_are_listed_newest_first_and_retired_ones_only_in_full(tx: &(impl KeyReads + KeyWrites)) {
    assert!(tx.signing_keys().unwrap().is_empty());
    // Made in the same second, the later made is the newer.
    tx.insert_signing_key(&key("k-b", "RS256", 10)).unwrap();
    tx.insert_signing_key(&key("k-a", "ES256", 10)).unwrap();
    tx.insert_signing_key(&key("k-c", "RS256", 20)).unwrap();
    tx.insert_signing_key(&key("k-0", "ES256", 5)).unwrap();
    let keys = tx.signing_keys().unwrap();
    assert_eq!(kids(&keys), ["k-c", "k-a", "k-b", "k-0"]);
    let first = &keys[0];
    assert_eq!(
        (
            first.algorithm.as_str(),
            &first.private_key[..],
            first.created_at,
            first.activates_at
        ),
        ("RS256", &b"private k-c"[..], 20, 25)
    );
    tx.retire_signing_keys_except(&["k-c".into(), "k-b".into()], 30)
        .unwrap();
    assert_eq!(kids(&tx.signing_keys().unwrap()), ["k-c", "k-b"]);
    assert_eq!(
        kids(&tx.all_signing_keys().unwrap()),
        ["k-c", "k-a", "k-b", "k-0"]
    );
    tx.retire_signing_keys_except(&[], 40).unwrap();
    assert!(
        tx.signing_keys().unwrap().is_empty(),
        "none kept: all retired"
    );
    assert_eq!(tx.all_signing_keys().unwrap().len(), 4);
    let again = tx.insert_signing_key(&key("k-a", "ES256", 50));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
}

fn a_private_key_is_resealed_in_place(tx: &(impl KeyReads + KeyWrites)) {
    tx.insert_signing_key(&key("k1", "RS256", 10)).unwrap();
    tx.retire_signing_keys_except(&[], 20).unwrap();
    assert!(tx.replace_signing_key_private("k1", b"sealed").unwrap());
    assert!(!tx.replace_signing_key_private("k2", b"sealed").unwrap());
    let keys = tx.all_signing_keys().unwrap();
    assert_eq!(&keys[0].private_key[..], b"sealed", "retired keys too");
}

fn the_key_generation_moves_with_every_change_to_the_keys(tx: &(impl KeyReads + KeyWrites)) {
    let mut seen = vec![tx.signing_key_generation().unwrap()];
    let mut changed = |tx: &dyn KeyReads, what: &str| {
        let now = tx.signing_key_generation().unwrap();
        assert!(now > *seen.last().unwrap(), "{what}: {seen:?} then {now}");
        seen.push(now);
    };
    tx.insert_signing_key(&key("k1", "RS256", 10)).unwrap();
    changed(tx, "inserted");
    tx.insert_signing_key(&key("k2", "RS256", 20)).unwrap();
    changed(tx, "inserted another");
    tx.retire_signing_keys_except(&["k2".into()], 30).unwrap();
    changed(tx, "retired");
    tx.replace_signing_key_private("k1", b"sealed").unwrap();
    changed(tx, "resealed");
    let last = *seen.last().unwrap();
    tx.signing_keys().unwrap();
    tx.all_signing_keys().unwrap();
    assert_eq!(
        tx.signing_key_generation().unwrap(),
        last,
        "reads change nothing"
    );
}

fn every_health_probe_changes_the_row(tx: &(impl HealthWrites + Fixture)) {
    let mut seen = Vec::new();
    for at in [100, 100, 100, 50, 200] {
        tx.record_health_probe(at).unwrap();
        seen.push(tx.health_stamp());
    }
    assert_eq!(seen, [100, 101, 102, 103, 200]);
}

super::contract!(
    keys_are_listed_newest_first_and_retired_ones_only_in_full,
    a_private_key_is_resealed_in_place,
    the_key_generation_moves_with_every_change_to_the_keys,
    every_health_probe_changes_the_row,
);
