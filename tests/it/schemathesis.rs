//! schemathesis (installed, pinned, by `.ci/run`) against
//! `docs/openapi.yaml` and the real binary: every operation called with
//! data drawn from its description, valid and not, as the System
//! Administrator; every answer must be no 5xx and as described (status,
//! content type, headers, body schema). A bounded run with a fixed seed, so
//! that CI sees the same requests every time; longer runs are in README
//! "Fuzzing".
//!
//! Left out, and why: the two logouts (`deleteSession`,
//! `deleteCurrentSession`) and the console's (`consoleLogout`), which end
//! the very session the run authenticates with, so that every later answer
//! would be 401 and test nothing. Each is tested in `sessions.rs`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// The operations that end the run's own session.
const ENDS_ITS_OWN_SESSION: [&str; 3] = ["deleteSession", "deleteCurrentSession", "consoleLogout"];

/// Test cases per operation and phase: enough to reach every operation's
/// error answers, few enough to finish within two minutes on two busy
/// cores.
const MAX_EXAMPLES: &str = "25";
/// The whole run may take no longer.
const RUN_LIMIT: Duration = Duration::from_secs(240);

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_description() {
    let srv = TestServer::start();
    // Something to list, link and look up besides the provider's own.
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.service_add("vmc", &["vmc:sddc.read"]);
    cli.run(&["group", "add", "ops@acme"], None).ok("group add");
    cli.token_create("alice@acme", "ci", None);
    let admin = srv.api().admin_login();

    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
    let base = format!("http://{}", srv.addr());
    let authorization = format!("Authorization: Bearer {}", admin.access_token);
    let mut args = vec![
        "run",
        schema,
        "--url",
        &base,
        "--header",
        &authorization,
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,\
         response_headers_conformance,response_schema_conformance",
        "--max-examples",
        MAX_EXAMPLES,
        // The same requests every run: deterministic generation (no
        // seed, no examples kept from an earlier run), one worker (so the
        // server sees them in one order).
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
    ];
    for operation in ENDS_ITS_OWN_SESSION {
        args.extend(["--exclude-operation-id", operation]);
    }
    let started = Instant::now();
    let mut child = Command::new("st")
        .args(&args)
        // schemathesis keeps nothing between runs in the server's directory.
        .current_dir(srv.dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis (`st`) runs; .ci/run installs it");
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    let status = wait_timeout(&mut child, RUN_LIMIT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = stdout.join().expect("stdout read");
    let stderr = stderr.join().expect("stderr read");
    assert!(
        status.is_some(),
        "schemathesis did not finish within {RUN_LIMIT:?}:\n{stdout}"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "schemathesis found answers outside docs/openapi.yaml (or a 5xx):\n{stdout}\n{}\nserver log:\n{}",
        stderr,
        srv.log()
    );
    // The run tested every operation but those left out.
    assert!(
        stdout.contains("Tested: "),
        "schemathesis' summary is missing:\n{stdout}"
    );
    let summary = stdout.find("SUMMARY").map_or("", |at| &stdout[at..]);
    eprintln!("schemathesis ran for {:?}:\n{summary}", started.elapsed());
}
