//! The benchmark runs end to end in its smoke mode (debug build, a few
//! hundred tokens, one second a case): every case answers, without errors,
//! and the table is printed. Not timed: it keeps `bench/run` from rotting;
//! how fast tokend is, the benchmark itself says (docs/performance.md).
//! A test target of its own, so that its load never overlaps other tests.

use std::process::Command;

#[test]
fn the_benchmark_runs_every_case_without_errors() {
    let dir = std::env::temp_dir().join(format!("tokend-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let results = dir.join("results.json");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/run"))
        .args(["--smoke", "--json"])
        .arg(&results)
        .output()
        .expect("bench/run starts (python3)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench/run --smoke failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| ceiling (bare server) |"), "{stdout}");

    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let cases = results["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["case"].as_str().unwrap()).collect();
    for expected in [
        "ceiling (bare server)",
        "exchange, /oauth/tenant/{org}/token",
        "exchange, api-tokens/authorize",
        "protected GET /api/session",
        "JWKS",
        "OpenID discovery",
        "introspection of an access token",
        "TLS ceiling (bare server), kept alive",
        "TLS exchange, kept alive",
        "TLS ceiling (bare server), new connection each",
        "TLS exchange, new connection each",
        "PostgreSQL: exchange, one node",
        "PostgreSQL: exchange, two nodes",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    for case in cases {
        assert!(case["rps"].as_f64().unwrap() > 0.0, "{case}");
        assert_eq!(case["errors"], 0, "{case}");
        assert!(case["p99"].as_f64().unwrap() > 0.0, "{case}");
    }
    assert_eq!(results["logins"]["failed"], 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
