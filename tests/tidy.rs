//! Tidy: the rules review keeps checking, checked by `cargo test` instead.
//! Every source file opens with a `//!` paragraph; SQL and rusqlite live
//! under `src/store/`; the HTTP engine is named only under `src/http/`; no
//! `unwrap()`/`expect()` outside tests; every route is in the OpenAPI
//! description and every described path is routed, and every error code
//! the server sends is in its error schemas; a released migration never
//! changes; `rust-version` covers what the locked dependencies need; the
//! README pins the test prerequisites as `.ci/run` does.

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
    // The backend contract (`store::contract`) and a `tests/` directory
    // of a module are tests, file by file.
    if path.ends_with("/tests.rs")
        || path.contains("/tests/")
        || path.starts_with("src/store/contract/")
    {
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
        // The PostgreSQL client does its I/O on a tokio runtime of its own.
        if path.starts_with("src/http/") || path.starts_with("src/store/postgres/") {
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

/// Each operation of `docs/openapi.yaml` as (method, path, security
/// schemes), in the file's order.
fn described_operations() -> Vec<(String, String, Vec<String>)> {
    let openapi = fs::read_to_string(root().join("docs/openapi.yaml")).expect("read openapi");
    let mut operations: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut path: Option<String> = None;
    let mut in_security = false;
    for line in openapi.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            path = None;
        }
        if line.starts_with("  /") && line.ends_with(':') {
            path = Some(line.trim().trim_end_matches(':').to_string());
            continue;
        }
        let Some(path) = &path else { continue };
        let method = line.trim().trim_end_matches(':');
        let is_operation = line.starts_with("    ")
            && !line.starts_with("     ")
            && ["get", "put", "post", "delete", "patch"].contains(&method);
        if is_operation {
            operations.push((method.to_ascii_uppercase(), path.clone(), Vec::new()));
            in_security = false;
        } else if line.starts_with("      security:") {
            in_security = true;
        } else if in_security && line.trim_start().starts_with("- ") {
            if let Some(operation) = operations.last_mut() {
                let scheme = line.trim_start().trim_start_matches("- ");
                operation
                    .2
                    .push(scheme.split(':').next().unwrap_or("").to_string());
            }
        } else if !line.starts_with("        ") {
            in_security = false;
        }
    }
    operations
}

#[test]
fn every_route_is_described_and_every_description_routed() {
    use tokend::http::{endpoints, Access};
    let mut routed: Vec<(String, String, Vec<String>)> = endpoints()
        .map(|(method, pattern, access)| {
            let schemes: &[&str] = match access {
                Access::Public | Access::Form => &[],
                Access::Console => &["consoleSession"],
                Access::Password | Access::Client => &["basicAuth"],
                Access::AccessToken => &["bearerAuth", "cspAuthToken"],
                Access::ApiToken => &["apiTokenBearer", "apiTokenHeader"],
            };
            (
                method.to_string(),
                pattern.to_string(),
                schemes.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert!(routed.len() >= 10, "too few routes: {routed:?}");
    let mut described = described_operations();
    routed.sort();
    described.sort();
    let only_routed: Vec<_> = routed.iter().filter(|r| !described.contains(r)).collect();
    let only_described: Vec<_> = described.iter().filter(|d| !routed.contains(d)).collect();
    assert!(
        only_routed.is_empty() && only_described.is_empty(),
        "the route table and docs/openapi.yaml differ (method, path, security):\n\
         routed, not so described: {only_routed:#?}\n\
         described, not so routed: {only_described:#?}"
    );
}

/// The module a source file is, as path segments under `src/`
/// (`src/domain/tokens/mod.rs` is `["domain", "tokens"]`).
fn module_of(path: &str) -> Vec<String> {
    let mut segments: Vec<String> = path
        .trim_start_matches("src/")
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if segments.last().is_some_and(|s| s == "mod") {
        segments.pop();
    }
    segments
}

/// The modules a file's code names through `super::` and `crate::` paths,
/// resolved to absolute module paths (a `use` group's members each count).
fn modules_named(module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut named = Vec::new();
    let bytes = text.as_bytes();
    for start in [0usize]
        .into_iter()
        .chain(text.match_indices("super::").map(|(i, _)| i))
        .chain(text.match_indices("crate::").map(|(i, _)| i))
        .skip(1)
    {
        let boundary = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b':');
        if !boundary {
            continue;
        }
        let rest = &text[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '{'))
            .unwrap_or(rest.len());
        let path = &rest[..end];
        let (path, group) = match path.split_once('{') {
            Some((head, _)) => {
                let close = rest.find('}').unwrap_or(rest.len());
                (head, Some(&rest[head.len() + 1..close]))
            }
            None => (path, None),
        };
        let mut base: Vec<String> = Vec::new();
        let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
        match segments.next() {
            Some("super") => {
                base = module.to_vec();
                base.pop();
            }
            Some("crate") => {}
            _ => continue,
        }
        for segment in segments {
            if segment == "super" {
                base.pop();
            } else if segment == "*" {
                break;
            } else {
                base.push(segment.to_string());
            }
        }
        match group {
            Some(members) => {
                for member in members.split(',') {
                    let first = member.trim().split("::").next().unwrap_or("").trim();
                    if !first.is_empty() && first != "self" {
                        let mut full = base.clone();
                        full.push(first.to_string());
                        named.push(full);
                    }
                }
            }
            None => named.push(base),
        }
    }
    named
}

/// Circles among the sibling modules of each directory under `src/domain`
/// and `src/http`: a module's files may name a sibling only if that
/// sibling (and what it names, transitively) never names it back. A
/// child naming its parent's items is not a circle.
#[test]
fn no_import_circle_inside_domain_or_http() {
    use std::collections::{BTreeMap, BTreeSet};
    let files: Vec<(Vec<String>, String)> = sources()
        .into_iter()
        .filter(|(path, _)| path.starts_with("src/domain/") || path.starts_with("src/http/"))
        .map(|(path, text)| {
            let code = non_test_lines(&path, &text)
                .into_iter()
                .map(|(_, line)| line)
                .collect::<Vec<_>>()
                .join("\n");
            (module_of(&path), code)
        })
        .collect();
    let dirs: BTreeSet<Vec<String>> = files
        .iter()
        .flat_map(|(module, _)| (1..module.len()).map(|n| module[..n].to_vec()))
        .collect();
    let mut circles = Vec::new();
    for dir in &dirs {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, _) in files
            .iter()
            .filter(|(m, _)| m.len() > dir.len() && m.starts_with(dir))
        {
            edges.entry(module[dir.len()].clone()).or_default();
        }
        for (module, code) in files
            .iter()
            .filter(|(m, _)| m.len() > dir.len() && m.starts_with(dir))
        {
            let from = &module[dir.len()];
            for target in modules_named(module, code) {
                if target.len() > dir.len() && target.starts_with(dir) {
                    let to = &target[dir.len()];
                    if to != from && edges.contains_key(to) {
                        edges.entry(from.clone()).or_default().insert(to.clone());
                    }
                }
            }
        }
        // A circle: a module that reaches itself.
        for start in edges.keys() {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&String> = edges[start].iter().collect();
            while let Some(next) = stack.pop() {
                if next == start {
                    circles.push(format!("{}: {start} reaches itself", dir.join("/")));
                    break;
                }
                if seen.insert(next) {
                    stack.extend(edges[next].iter());
                }
            }
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

/// ARCHITECTURE.md's code map names every source file (and every module
/// directory), so a reader finds the right file in one step.
#[test]
fn the_code_map_names_every_source_file() {
    let map = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let missing = offenders(|path, _| {
        let relative = path.trim_start_matches("src/");
        let mut parts: Vec<&str> = relative.split('/').collect();
        let file = parts.pop().unwrap_or_default();
        let dir_named =
            parts.len() < 2 || parts.last().is_some_and(|d| map.contains(&format!("{d}/")));
        let file_named = map.contains(&format!("`{file}`")) || map.contains(&format!("/{file}`"));
        if dir_named && file_named {
            vec![]
        } else {
            vec![path.to_string()]
        }
    });
    assert!(
        missing.is_empty(),
        "source files the code map does not name: {missing:#?}"
    );
}

/// The storage interface names record types only, never a module that
/// decides: a backend implements it without reaching into domain logic.
#[test]
fn the_storage_interface_names_records_only() {
    // `super` is the domain from mod.rs, the interface itself from below it.
    for (file, outside) in [
        ("src/domain/storage/mod.rs", "use super::"),
        ("src/domain/storage/commit.rs", "use crate::domain::"),
    ] {
        let storage = fs::read_to_string(root().join(file)).expect("read the storage interface");
        let found: Vec<&str> = storage
            .lines()
            .filter(|line| line.starts_with("use crate::domain::") || line.starts_with(outside))
            .filter(|line| !line.starts_with("use crate::domain::records::"))
            .collect();
        assert!(
            found.is_empty(),
            "{file} imports beyond records: {found:#?}"
        );
    }
}

/// The SHA-256 of every released migration of `schema.sql` (the text after
/// its `-- migration N` line, up to the next one). A database made by a
/// release has run exactly these; editing one would leave such databases
/// with a schema no code expects. A new migration is added to this list in
/// the commit that adds it.
const RELEASED_MIGRATIONS: &[(usize, &str)] = &[
    (
        1,
        "bec0dfdced7433484795a2f97a02a673da560834865b92c5c1aa17d33fa24430",
    ),
    (
        2,
        "6cda4fe36b89c7487fad320da97ef07d1f022939fdcf21e2ba9ca93ea6f364b8",
    ),
    (
        3,
        "7a462aae87f63e4846976972f304f3c740ec28c61e7d4ce9992fa38010c53951",
    ),
    (
        4,
        "e70d00dfdfda54584e2255b5984c338632ba8cd240f299920db7d6ae957e3684",
    ),
    (
        5,
        "0371acbb4d37a535e38d7a3e573f9061285b9969955ca77cb426e5ea1c9650ce",
    ),
    (
        6,
        "f352aa8dede3667ba8981c24d20d9cbdf266b5fccaf83654a548aacf340322ea",
    ),
    (
        7,
        "4a25ea0de96d9af50c4d32b26e392067ab0692e31117ec0eaa91a791cf098801",
    ),
    (
        8,
        "b762360ff564a5c6ff5c32e0750d5febf1d2eab208c6e7ec1a90d37e911a953c",
    ),
    (
        9,
        "e69b9340ed32b50e745fd5f7670250f9776542b9c3ea70082e92946133de9f03",
    ),
    (
        10,
        "d7530720b1af0b15594957a47237d89630c97e53212e704ee39f4c7befccc598",
    ),
    (
        11,
        "1b0fd01ac69c8217888c80a90cad75f830433cb9831567d638498dec725441f5",
    ),
    (
        12,
        "a2cf8e9ecb9bc7ee25224de03425d5fee4c60211a8be9db2c6ae470b99fbebd2",
    ),
    (
        13,
        "1b49c82b69bcb7a996a28decd22c27cf4f89fd0b8d8b396b80e949b1706ad16e",
    ),
    (
        14,
        "872591c82a068ed5d39ecad7e6da02e67c0e793dd68059cb58f8c58b17429536",
    ),
    (
        15,
        "d0938ac0c65a10ca2fbb8ad034ad31a4fe84d532697b1e754c2f564c97933ce5",
    ),
    (
        16,
        "3a58d34573d1b3fe326eb0cb89c3ab1481548a82623b8becc98bb8a3af4e108a",
    ),
    (
        17,
        "f8fdd87ea71afdf642805514419b7332c9895b31f9af4828213e178fc16e0119",
    ),
    (
        18,
        "f82604ff6681ca0a3b26b59eec0add2ec01dba57fc1ee89a8ca1dc5282b25bb1",
    ),
    (
        19,
        "a6c15743cf2c9ad0310e9fa1a93bc5ece986fddf77bce8eb1927f238c93f9efe",
    ),
    (
        20,
        "5106a46673c5f85f4dc170ae2244015672a8bd7707e174b7269f9673931ff9af",
    ),
    (
        21,
        "f77a8e33bd2697c6354c20091881490e3106655ed3ee419139f1c7e7d38fd476",
    ),
    (
        22,
        "10079146f0425951fd1179c39d0de85159585c319e7578160fce665a4c1418ff",
    ),
];

/// The numbered sections of a schema file, by the marker that begins
/// each (`-- migration N`, and `-- baseline N` in schema.postgres.sql), with
/// the SHA-256 of each one's text.
fn schema_sections(file: &str) -> Vec<(usize, String)> {
    use sha2::{Digest, Sha256};
    let schema = fs::read_to_string(root().join(file)).expect("a schema file");
    let marked = schema.replace("\n-- baseline ", "\n-- migration ");
    marked
        .split("\n-- migration ")
        .skip(1)
        .map(|section| {
            let (number, body) = section.split_once('\n').unwrap_or((section, ""));
            let number = number.trim().parse().expect("a migration number");
            (number, format!("{:x}", Sha256::digest(body.as_bytes())))
        })
        .collect()
}

/// Sections of schema.postgres.sql released, with their digests: the
/// baseline (version 20) and any migration after it.
const RELEASED_POSTGRES_SECTIONS: &[(usize, &str)] = &[
    (
        20,
        "baa77c58cd542dba2d0695d856ba7c43f78953b49180391fb4d5985c4ae18c4f",
    ),
    (
        21,
        "8c9d49d1d9fab8f16771352d1c2b4f6c2877c1664a8fa68d92752120e58749a0",
    ),
    (
        22,
        "fddddfab1014861946178981eca39f64a01c0708c98bf65ffcbb9d2d020323af",
    ),
];

#[test]
fn released_postgres_sections_never_change() {
    let sections = schema_sections("schema.postgres.sql");
    for (number, digest) in RELEASED_POSTGRES_SECTIONS {
        let found = sections.iter().find(|(n, _)| n == number);
        assert_eq!(
            found.map(|(_, d)| d.as_str()),
            Some(*digest),
            "PostgreSQL section {number} changed after its release: add a new migration instead"
        );
    }
    let numbers: Vec<usize> = sections.iter().map(|(n, _)| *n).collect();
    let sqlite: Vec<usize> = schema_sections("schema.sql")
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| *n >= 20)
        .collect();
    assert_eq!(
        numbers, sqlite,
        "schema.postgres.sql has a section for each version of schema.sql from the baseline on"
    );
    let unlisted: Vec<usize> = numbers
        .into_iter()
        .filter(|n| !RELEASED_POSTGRES_SECTIONS.iter().any(|(r, _)| *r == *n))
        .collect();
    assert!(
        unlisted.is_empty(),
        "PostgreSQL sections {unlisted:?} have no digest here: add them to RELEASED_POSTGRES_SECTIONS"
    );
}

#[test]
fn released_migrations_never_change() {
    let sections = schema_sections("schema.sql");
    for (number, digest) in RELEASED_MIGRATIONS {
        let found = sections.iter().find(|(n, _)| n == number);
        assert_eq!(
            found.map(|(_, d)| d.as_str()),
            Some(*digest),
            "migration {number} changed after its release: add a new migration instead"
        );
    }
    let unlisted: Vec<usize> = sections
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !RELEASED_MIGRATIONS.iter().any(|(r, _)| r == n))
        .collect();
    assert!(
        unlisted.is_empty(),
        "migrations {unlisted:?} have no digest here: add them to RELEASED_MIGRATIONS"
    );
}

/// The `enum` of a schema of `docs/openapi.yaml`'s components (`Error`,
/// `OAuthError`): the error codes it documents.
fn documented_codes(schema: &str) -> Vec<String> {
    let openapi = fs::read_to_string(root().join("docs/openapi.yaml")).expect("read openapi");
    let mut lines = openapi
        .lines()
        .skip_while(|line| *line != format!("    {schema}:"))
        .skip(1)
        .take_while(|line| line.starts_with("     ") || line.is_empty());
    let mut codes = Vec::new();
    if lines.by_ref().any(|line| line.trim() == "enum:") {
        for line in lines {
            match line.trim().strip_prefix("- ") {
                Some(code) => codes.push(code.to_string()),
                None => break,
            }
        }
    }
    codes
}

/// The error codes the server's code can send: the string literals that a
/// JSON error body takes as its `error` (`ApiError::new(404, "not_found",
/// …)`, `code: "invalid_grant"`, `"error": "internal_error"`, the
/// transport's `(414, "uri_too_long", …)`), and the device grant's codes.
fn codes_in_the_code() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, text) in sources() {
        let device_codes = path == "src/domain/error.rs";
        if !path.starts_with("src/http/") && !device_codes {
            continue;
        }
        let code: String = non_test_lines(&path, &text)
            .into_iter()
            .map(|(_, line)| line + "\n")
            .collect();
        let mut rest = code.as_str();
        let mut offset = 0;
        while let Some(open) = rest.find('"') {
            let start = offset + open + 1;
            let Some(len) = code[start..].find('"') else {
                break;
            };
            let literal = &code[start..start + len];
            let before = code[..start - 1].trim_end();
            let is_code = !literal.is_empty()
                && literal.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && if device_codes {
                    before.ends_with("=>")
                        && before
                            .lines()
                            .last()
                            .is_some_and(|l| l.trim_start().starts_with("DeviceFlowError::"))
                } else {
                    before.ends_with("code:")
                        || before.ends_with("\"error\":")
                        || before.strip_suffix(',').is_some_and(|b| {
                            let b = b.trim_end();
                            b.len() > 4
                                && b[b.len() - 3..].bytes().all(|c| c.is_ascii_digit())
                                && b[..b.len() - 3].trim_end().ends_with('(')
                        })
                };
            if is_code {
                found.push((path.clone(), literal.to_string()));
            }
            offset = start + len + 1;
            rest = &code[offset..];
        }
    }
    found
}

/// Every error code the server sends is in docs/openapi.yaml, in the
/// `enum` of one of its two error shapes.
#[test]
fn every_error_code_sent_is_documented() {
    let documented: Vec<String> = ["Error", "OAuthError"]
        .iter()
        .flat_map(|schema| documented_codes(schema))
        .collect();
    assert!(
        documented.contains(&"not_found".to_string())
            && documented.contains(&"invalid_grant".to_string()),
        "the Error and OAuthError enums were not found: {documented:?}"
    );
    let sent = codes_in_the_code();
    for expected in ["conflict", "unavailable", "uri_too_long", "slow_down"] {
        assert!(
            sent.iter().any(|(_, code)| code == expected),
            "the scan misses {expected}: {sent:?}"
        );
    }
    let undocumented: Vec<_> = sent
        .iter()
        .filter(|(_, code)| !documented.contains(code))
        .collect();
    assert!(
        undocumented.is_empty(),
        "error codes the server sends that docs/openapi.yaml's Error and OAuthError \
         enums lack: {undocumented:?}"
    );
}

/// A version as numbers, missing parts 0 (`1.89` is `1.89.0`).
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text
        .split(['.', '-'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    parts.resize(3, 0);
    parts
}

/// Cargo.toml's `rust-version` (which README states) is what the locked
/// dependencies need: no package of Cargo.lock asks for a newer Rust.
#[test]
fn rust_version_covers_every_locked_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata --locked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let ours = packages
        .iter()
        .find(|p| p["name"] == "tokend")
        .and_then(|p| p["rust_version"].as_str())
        .expect("tokend has a rust-version");
    let newer: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            (version(needs) > version(ours))
                .then(|| format!("{} {} needs {needs}", p["name"], p["version"]))
        })
        .collect();
    assert!(
        newer.is_empty(),
        "rust-version is {ours}, but locked packages need more (raise it in Cargo.toml, \
         README.md and .ci/run): {newer:?}"
    );
    for file in ["README.md", ".ci/run"] {
        let text = fs::read_to_string(root().join(file)).expect("read it");
        assert!(
            text.contains(&format!("Rust toolchain ({ours} or newer")),
            "{file} states another Rust version than Cargo.toml's {ours}"
        );
    }
}

/// The versions `.ci/run` pins (`name==1.2.3` from PyPI, `name@1.2.3` from
/// npm, `cargo-deb --version 1.2.3`) are the ones README.md tells a
/// developer to install.
#[test]
fn readme_pins_what_ci_pins() {
    let ci = fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut pins = Vec::new();
    for line in ci.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || "()\"'".contains(c))
            .filter(|w| !w.is_empty())
            .collect();
        for (i, word) in words.iter().enumerate() {
            let pinned = word
                .split_once("==")
                .or_else(|| word.rsplit_once('@'))
                .is_some_and(|(name, v)| {
                    !name.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())
                });
            if pinned {
                pins.push(word.to_string());
            } else if *word == "--version" && i > 0 && words[i - 1] == "cargo-deb" {
                pins.push(format!("cargo-deb --version {}", words[i + 1]));
            }
        }
    }
    assert!(pins.len() >= 8, "too few pins found in .ci/run: {pins:?}");
    let missing: Vec<&String> = pins
        .iter()
        .filter(|pin| !readme.contains(pin.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not pin these as .ci/run does: {missing:?}"
    );
}

/// The event types `docs/openapi.yaml` documents (`Event.type`) are those
/// `domain::audit::EVENT_TYPES` lists, which `Event::new` holds every
/// event to in the tests.
#[test]
fn every_event_type_written_is_documented() {
    let code = fs::read_to_string(root().join("src/domain/audit/mod.rs")).expect("read audit");
    let listed: std::collections::BTreeSet<String> = code
        .split_once("pub const EVENT_TYPES: &[&str] = &[")
        .and_then(|(_, rest)| rest.split_once("];"))
        .expect("EVENT_TYPES in src/domain/audit/mod.rs")
        .0
        .split(',')
        .map(|t| t.trim().trim_matches('"').to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let openapi = fs::read_to_string(root().join("docs/openapi.yaml")).expect("read openapi");
    let documented: std::collections::BTreeSet<String> = openapi
        .split_once("description: Dotted, stable event type.")
        .and_then(|(_, rest)| rest.split_once("enum: ["))
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("the Event.type enum in docs/openapi.yaml")
        .0
        .split(',')
        .map(|t| t.trim().to_string())
        .collect();
    assert!(listed.contains("token.exchange"), "{listed:?}");
    assert_eq!(
        listed, documented,
        "EVENT_TYPES and docs/openapi.yaml's Event.type enum differ"
    );
}
