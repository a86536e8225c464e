//! The Debian package, installed and purged on this machine: what
//! `packaging/build-deb` makes from the binary the tests use, installed with
//! dpkg, holds the binary, the units (which `systemd-analyze verify`
//! accepts), `/etc/default/tokend` as a conffile, the completions and the
//! manual pages; it makes the `tokend` user and its directories, and the
//! installed binary serves as that user. Removing the package keeps the
//! database, the user and the settings; purging it leaves nothing.
//!
//! It changes the machine (a package, a system user), so `cargo test` runs
//! it only when asked: `.ci/run` runs `cargo test --test package --
//! --ignored` as root. Asked, it fails rather than skips when it cannot run
//! (not root, no dpkg or cargo-deb), and it refuses to touch a machine that
//! already has a tokend package, user or state directory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const UNITS: [&str; 5] = [
    "tokend.service",
    "tokend-remind.service",
    "tokend-remind.timer",
    "tokend-backup.service",
    "tokend-backup.timer",
];

/// Runs `program` with `args`; panics if it cannot be started.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?} cannot run: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `program` with `args` and returns its stdout; panics unless it exits 0.
fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn installed() -> bool {
    run("dpkg-query", &["-W", "-f=${Status}", "tokend"])
        .stdout
        .starts_with(b"install ok")
}

fn known_to_dpkg() -> bool {
    run("dpkg-query", &["-W", "tokend"]).status.success()
}

fn account(database: &str) -> Option<String> {
    let out = run("getent", &[database, "tokend"]);
    out.status
        .success()
        .then(|| text(&out.stdout).trim().to_owned())
}

fn mode_and_owner(path: &str) -> String {
    ok("stat", &["-c", "%a %U:%G %F", path]).trim().to_owned()
}

/// Purges the package on the way out, however the test ends, once it was
/// installed by this test.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        if known_to_dpkg() {
            let _ = run("dpkg", &["--purge", "tokend"]);
        }
    }
}

/// The preconditions, each a loud failure: this test must run where CI
/// runs it.
fn require_a_machine_to_install_on() {
    let uid = ok("id", &["-u"]);
    assert_eq!(
        uid.trim(),
        "0",
        "the package test installs a package: run it as root (.ci/run does)"
    );
    for tool in ["dpkg", "systemd-analyze", "man", "runuser"] {
        assert!(
            run("sh", &["-c", &format!("command -v {tool}")])
                .status
                .success(),
            "{tool} is missing (.ci/run installs it)"
        );
    }
    assert!(
        run("cargo", &["deb", "--version"]).status.success(),
        "cargo-deb is missing: .ci/run installs it (cargo install --locked cargo-deb --version 3.8.0)"
    );
    assert!(
        !known_to_dpkg() && account("passwd").is_none() && !Path::new("/var/lib/tokend").exists(),
        "this machine already has a tokend package, user or /var/lib/tokend: \
         the test will not touch them (dpkg --purge tokend, if it is a leftover of this test)"
    );
}

/// `packaging/build-deb` on the binary the tests use: it takes the place of
/// the release build in a target directory of its own, so nothing is built.
fn build_package() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-test");
    let _ = std::fs::remove_dir_all(&target);
    let release = target.join("release");
    std::fs::create_dir_all(&release).expect("create the package's target directory");
    let binary = release.join("tokend");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_tokend"), &binary).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_tokend"), &binary).expect("copy the binary");
    }
    let out_dir = target.join("deb");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/build-deb"))
        .args(["--no-build", "--fast", "--output"])
        .arg(&out_dir)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("packaging/build-deb runs");
    assert!(
        out.status.success(),
        "packaging/build-deb failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let deb = out_dir.join(format!(
        "tokend_{}-1_{}.deb",
        env!("CARGO_PKG_VERSION"),
        ok("dpkg", &["--print-architecture"]).trim()
    ));
    assert!(deb.is_file(), "no {}: {}", deb.display(), text(&out.stdout));
    deb
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// The status line of `GET path`, or None while nothing answers.
fn status_of(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_owned)
}

/// The installed binary as the unit runs it: the tokend user, the unit's
/// database, its working directory.
fn serve_as_tokend(port: u16) -> Child {
    Command::new("runuser")
        .args(["-u", "tokend", "--", "env", "-i"])
        .arg("TOKEND_DB=/var/lib/tokend/tokend.db")
        .arg(format!("TOKEND_LISTEN=127.0.0.1:{port}"))
        .arg("TOKEND_ADMIN_PASSWORD=Package-Test-Passw0rd")
        .arg("TOKEND_WORKERS=1")
        .args(["/usr/bin/tokend", "serve"])
        .current_dir("/var/lib/tokend")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runuser starts tokend")
}

fn stop(mut server: Child) -> String {
    let _ = run("kill", &["-TERM", &server.id().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let mut log = String::new();
    if let Some(mut stderr) = server.stderr.take() {
        let _ = stderr.read_to_string(&mut log);
    }
    let _ = server.wait();
    log
}

#[test]
#[ignore = "installs and purges a Debian package as root: .ci/run runs it with --ignored"]
fn the_debian_package_installs_serves_and_purges_cleanly() {
    require_a_machine_to_install_on();
    let deb = build_package();
    let deb = deb.to_string_lossy().into_owned();

    let _purge = Purge;
    let install = run("dpkg", &["-i", &deb]);
    assert!(
        install.status.success(),
        "dpkg -i failed:\n{}{}",
        text(&install.stdout),
        text(&install.stderr)
    );
    assert!(installed(), "dpkg does not say installed");

    // The files, with the modes an admin expects.
    let files = ok("dpkg", &["-L", "tokend"]);
    let mut expected = vec![
        "/usr/bin/tokend".to_owned(),
        "/etc/default/tokend".to_owned(),
        "/usr/lib/sysusers.d/tokend.conf".to_owned(),
        "/usr/lib/tmpfiles.d/tokend.conf".to_owned(),
        "/usr/share/bash-completion/completions/tokend".to_owned(),
        "/usr/share/zsh/vendor-completions/_tokend".to_owned(),
        "/usr/share/fish/vendor_completions.d/tokend.fish".to_owned(),
        "/usr/share/man/man1/tokend.1.gz".to_owned(),
        "/usr/share/man/man1/tokend-serve.1.gz".to_owned(),
        "/usr/share/man/man1/tokend-backup.1.gz".to_owned(),
    ];
    expected.extend(UNITS.iter().map(|u| format!("/usr/lib/systemd/system/{u}")));
    for file in &expected {
        assert!(
            files.lines().any(|l| l == file) && Path::new(file).is_file(),
            "{file} is not installed; dpkg -L:\n{files}"
        );
    }
    assert!(
        !files.contains("/usr/local/"),
        "nothing under /usr/local: {files}"
    );
    assert_eq!(
        mode_and_owner("/usr/bin/tokend"),
        "755 root:root regular file"
    );
    assert_eq!(
        mode_and_owner("/etc/default/tokend"),
        "600 root:root regular file",
        "it may hold the first password and relay credentials"
    );
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "tokend"]);
    assert!(
        conffiles.contains("/etc/default/tokend"),
        "a conffile: {conffiles}"
    );

    // The units run the packaged binary, read the settings, and are
    // installed, not enabled: the admin sets /etc/default/tokend first.
    for unit in UNITS.iter().filter(|u| u.ends_with(".service")) {
        let text = std::fs::read_to_string(format!("/usr/lib/systemd/system/{unit}")).unwrap();
        assert!(
            text.contains("ExecStart=/usr/bin/tokend "),
            "{unit}: {text}"
        );
        assert!(
            text.contains("EnvironmentFile=-/etc/default/tokend"),
            "{unit}: {text}"
        );
    }
    let enabled = run(
        "sh",
        &["-c", "ls /etc/systemd/system/*/ 2>/dev/null | grep tokend"],
    );
    assert!(
        enabled.stdout.is_empty(),
        "nothing enabled: {}",
        text(&enabled.stdout)
    );
    let unit_paths: Vec<String> = UNITS
        .iter()
        .map(|u| format!("/usr/lib/systemd/system/{u}"))
        .collect();
    let mut verify = vec!["verify"];
    verify.extend(unit_paths.iter().map(String::as_str));
    let verified = run("systemd-analyze", &verify);
    assert!(
        verified.status.success() && verified.stderr.is_empty() && verified.stdout.is_empty(),
        "systemd-analyze verify: {}\n{}{}",
        verified.status,
        text(&verified.stdout),
        text(&verified.stderr)
    );

    // The user and its directories.
    let user = account("passwd").expect("the tokend user exists");
    let fields: Vec<&str> = user.split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "a system user: {user}");
    assert_eq!(fields[5], "/var/lib/tokend", "{user}");
    assert_eq!(fields[6], "/usr/sbin/nologin", "{user}");
    assert!(account("group").is_some(), "the tokend group exists");
    for dir in ["/var/lib/tokend", "/var/backups/tokend"] {
        assert_eq!(mode_and_owner(dir), "700 tokend:tokend directory", "{dir}");
    }

    // The binary, its manual and its completions.
    assert_eq!(
        ok("/usr/bin/tokend", &["--version"]).trim(),
        format!("tokend {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        ok("man", &["-w", "tokend"]).trim(),
        "/usr/share/man/man1/tokend.1.gz"
    );
    let page = ok("man", &["-P", "cat", "tokend-backup"]);
    assert!(
        page.contains("--keep") && page.contains("--dir"),
        "man tokend-backup: {page}"
    );
    let completion = ok(
        "bash",
        &[
            "-c",
            "source /usr/share/bash-completion/completions/tokend && complete -p tokend",
        ],
    );
    assert!(completion.contains("tokend"), "{completion}");

    // It serves as the unit runs it, and the admin commands work as the user.
    let port = free_port();
    let server = serve_as_tokend(port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ready = None;
    while Instant::now() < deadline {
        ready = status_of(port, "/health/ready");
        if ready.as_deref().is_some_and(|s| s.contains(" 200 ")) {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let listed = run(
        "runuser",
        &[
            "-u",
            "tokend",
            "--",
            "/usr/bin/tokend",
            "--db",
            "/var/lib/tokend/tokend.db",
            "token",
            "list",
        ],
    );
    let log = stop(server);
    assert!(
        ready.as_deref().is_some_and(|s| s.contains(" 200 ")),
        "/health/ready: {ready:?}; log:\n{log}"
    );
    assert!(listed.status.success(), "token list as tokend: {listed:?}");
    assert_eq!(
        mode_and_owner("/var/lib/tokend/tokend.db"),
        "600 tokend:tokend regular file"
    );
    // The key file that seals the signing keys, in the state directory.
    assert_eq!(
        mode_and_owner("/var/lib/tokend/tokend.db.key"),
        "600 tokend:tokend regular file"
    );

    // Remove keeps the state, the user and the settings.
    ok("dpkg", &["--remove", "tokend"]);
    assert!(!Path::new("/usr/bin/tokend").exists());
    assert!(
        Path::new("/var/lib/tokend/tokend.db").is_file(),
        "remove keeps the database"
    );
    assert!(
        Path::new("/var/lib/tokend/tokend.db.key").is_file(),
        "remove keeps the key file"
    );
    assert!(account("passwd").is_some(), "remove keeps the user");
    assert!(
        Path::new("/etc/default/tokend").is_file(),
        "remove keeps the conffile"
    );

    // Purge leaves nothing.
    ok("dpkg", &["--purge", "tokend"]);
    assert!(!known_to_dpkg(), "dpkg still knows tokend");
    assert_eq!(account("passwd"), None, "purge removes the user");
    assert_eq!(account("group"), None, "purge removes the group");
    for gone in [
        "/var/lib/tokend",
        "/var/backups/tokend",
        "/etc/default/tokend",
    ]
    .iter()
    .map(|p| p.to_string())
    .chain(expected)
    {
        assert!(!Path::new(&gone).exists(), "{gone} is left after purge");
    }
}
