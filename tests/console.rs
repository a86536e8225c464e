//! The web console in a real headless browser: `tests/console/console_test.py`
//! drives Debian's chromium through chromium-driver and selenium against the
//! real binary on a free port, checks every page with axe-core, and saves a
//! screenshot of each page to `docs/console/`. `.ci/run` installs the
//! browser, the driver, selenium and axe-core. A test target of its own, so
//! that a browser never competes with the other tests for the two cores.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "Adm1n-Console-Passw0rd-4e1d";
const MEMBER_PASSWORD: &str = "Memb3r-Console-Passw0rd-9c2a";

/// The server, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs an admin command on the database; its stdout.
fn tokend(db: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokend"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tokend runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        writeln!(pipe, "{input}").expect("write stdin");
    }
    let out = child.wait_with_output().expect("tokend exits");
    assert!(out.status.success(), "tokend {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_console_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("tokend-console-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("tokend.db");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_tokend"))
            .arg("--db")
            .arg(&db)
            .args(["serve", "--listen", &address])
            .env("TOKEND_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tokend serve"),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "tokend did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tokend(&db, &["org", "add", "acme"], None);
    for (user, role) in [
        ("member@acme", "Organization Member"),
        ("carol@acme", "Organization Administrator"),
        ("alice@acme", "Token User"),
    ] {
        tokend(
            &db,
            &["user", "add", user, "--role", role],
            Some(MEMBER_PASSWORD),
        );
    }
    // A service role with two permissions, held by the administrator
    // directly, and a role that comes through a group.
    let setup: [&[&str]; 6] = [
        &[
            "service",
            "add",
            "vmc",
            "--permission",
            "vmc:sddc.read",
            "--permission",
            "vmc:sddc.write",
        ],
        &[
            "role",
            "add",
            "operator",
            "--global",
            "--service",
            "vmc",
            "--permission",
            "vmc:sddc.read",
            "--permission",
            "vmc:sddc.write",
        ],
        &["role", "grant", "administrator@System", "operator"],
        &["group", "add", "ops@System"],
        &["group", "grant", "ops@System", "Token User"],
        &["group", "join", "ops@System", "administrator"],
    ];
    for command in setup {
        tokend(&db, command, None);
    }
    let alice_token = tokend(
        &db,
        &["token", "create", "alice@acme", "--name", "nightly"],
        None,
    );

    let axe: PathBuf = root.join("tests/console/node_modules/axe-core/axe.min.js");
    let out = Command::new("python3")
        .arg(root.join("tests/console/console_test.py"))
        .arg(format!("http://{address}"))
        .arg(ADMIN_PASSWORD)
        .arg(MEMBER_PASSWORD)
        .arg(&axe)
        .arg(root.join("docs/console"))
        .arg(alice_token.trim())
        .output()
        .expect("python3 runs the browser test");
    drop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the console's browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("console: every check passed"), "{stdout}");
    println!("{stdout}");
}
