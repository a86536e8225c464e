//! Tidy: the rules review keeps checking, checked by `cargo test` instead.
//! Every source file opens with a `//!` paragraph; SQL and rusqlite live
//! under `src/store/`; the HTTP engine is named only under `src/http/`; no
//! `unwrap()`/`expect()` outside tests; every route is in the OpenAPI
//! description and every described path is routed.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `src/`, as (path relative to the root, text).
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join("src"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("read source");
            let relative = p.strip_prefix(root()).expect("under root");
            (relative.to_string_lossy().replace('\\', "/"), text)
        })
        .collect()
}

/// The lines of a file that are not test code: every line but those of an
/// item marked `#[cfg(test)]` (a test module, a test-only function or
/// impl), and nothing of a file that is itself a test module. Code after a
/// test module is checked like any other.
fn non_test_lines(path: &str, text: &str) -> Vec<(usize, String)> {
    if path.ends_with("/tests.rs") {
        return Vec::new();
    }
    let mut kept = Vec::new();
    // Inside a test item: the depth of its braces once its body opened.
    let mut skipping: Option<Option<i64>> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(depth) = skipping {
            if trimmed.starts_with("#[") && depth.is_none() {
                continue;
            }
            let opened = line.matches('{').count() as i64;
            let closed = line.matches('}').count() as i64;
            skipping = match depth {
                None if opened == 0 && trimmed.ends_with(';') => None,
                None if opened == 0 => Some(None),
                None | Some(_) => {
                    let depth = depth.unwrap_or(0) + opened - closed;
                    (depth > 0).then_some(Some(depth))
                }
            };
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            skipping = Some(None);
            continue;
        }
        if !trimmed.starts_with("//") {
            kept.push((i + 1, line.to_string()));
        }
    }
    kept
}

fn offenders(check: impl Fn(&str, &str) -> Vec<String>) -> Vec<String> {
    sources()
        .iter()
        .flat_map(|(path, text)| check(path, text))
        .collect()
}

#[test]
fn every_source_file_says_what_it_owns() {
    let missing = offenders(|path, text| {
        let opens = text.lines().take(3).any(|l| l.starts_with("//!"));
        if opens {
            vec![]
        } else {
            vec![path.to_string()]
        }
    });
    assert!(
        missing.is_empty(),
        "files without a //! header: {missing:?}"
    );
}

#[test]
fn sql_lives_in_the_store_alone() {
    const SQL: [&str; 6] = [
        "rusqlite",
        "SELECT ",
        "INSERT INTO",
        "UPDATE ",
        "DELETE FROM",
        "CREATE TABLE",
    ];
    let found = offenders(|path, text| {
        if path.starts_with("src/store/") {
            return vec![];
        }
        non_test_lines(path, text)
            .into_iter()
            .filter(|(_, line)| SQL.iter().any(|word| line.contains(word)))
            .map(|(n, line)| format!("{path}:{n}: {}", line.trim()))
            .collect()
    });
    assert!(found.is_empty(), "SQL outside src/store/: {found:#?}");
}

#[test]
fn the_http_engine_is_named_only_in_the_http_layer() {
    const ENGINES: [&str; 4] = ["tiny_http", "hyper", "tokio", "hyper_util"];
    let found = offenders(|path, text| {
        if path.starts_with("src/http/") {
            return vec![];
        }
        non_test_lines(path, text)
            .into_iter()
            .filter(|(_, line)| {
                ENGINES
                    .iter()
                    .any(|engine| line.contains(&format!("{engine}::")))
            })
            .map(|(n, line)| format!("{path}:{n}: {}", line.trim()))
            .collect()
    });
    assert!(
        found.is_empty(),
        "HTTP engine outside src/http/: {found:#?}"
    );
}

#[test]
fn nothing_outside_tests_unwraps() {
    let found = offenders(|path, text| {
        non_test_lines(path, text)
            .into_iter()
            .filter(|(_, line)| line.contains(".unwrap()") || line.contains(".expect("))
            .map(|(n, line)| format!("{path}:{n}: {}", line.trim()))
            .collect()
    });
    assert!(
        found.is_empty(),
        "unwrap()/expect() outside tests: {found:#?}"
    );
}

#[test]
fn every_route_is_described_and_every_description_routed() {
    let routes_text =
        fs::read_to_string(root().join("src/http/routes.rs")).expect("read routes.rs");
    // The patterns are the string literals `Route::pattern` returns.
    let start = routes_text
        .find("fn pattern(&self)")
        .expect("Route::pattern in routes.rs");
    let body = &routes_text[start..];
    let body = &body[..body.find("\n    }\n").expect("end of Route::pattern")];
    let mut routed: Vec<&str> = body
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/'))
        .collect();
    routed.sort();
    routed.dedup();
    assert!(routed.len() >= 10, "parsed too few routes: {routed:?}");

    let openapi = fs::read_to_string(root().join("docs/openapi.yaml")).expect("read openapi");
    let mut described: Vec<&str> = openapi
        .lines()
        .filter(|l| l.starts_with("  /") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    described.sort();
    assert_eq!(
        routed, described,
        "routes in src/http/routes.rs and paths in docs/openapi.yaml differ"
    );
}
