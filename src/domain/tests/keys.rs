//! Signing keys: publication before signing, rotation with and without a
//! delay, and the key file that seals them.

use super::*;

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

on_every_backend!(
    a_rotated_key_is_published_first_signs_after_the_delay_and_old_tokens_still_verify,
    an_upgraded_database_gets_an_rsa_key_published_before_it_signs,
    a_delay_within_the_jwks_max_age_is_refused,
    a_rotation_at_once_signs_now_and_refuses_what_the_old_keys_signed,
    a_lost_key_file_is_never_replaced_silently_but_on_request_and_a_reseal_follows,
);
