//! Apache httpd with mod_auth_openidc (Debian's packages, installed by
//! .ci/run) as an OAuth 2.0 resource server that introspects tokend's
//! access tokens, configured with tests/resource_servers/
//! apache-resource-server.conf, the configuration docs/resource-servers.md
//! shows. mod_auth_openidc introspects over TLS only, so the same Apache
//! also stands in for the TLS-terminating proxy in front of tokend, with a
//! certificate made for the test.

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{access_token, acme, api_token, exchange, scripts, VMC, VRO};
use crate::support::*;

const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
const MODULES_LOADED: [(&str, &str); 8] = [
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("headers_module", "mod_headers.so"),
    ("ssl_module", "mod_ssl.so"),
    ("proxy_module", "mod_proxy.so"),
    ("proxy_http_module", "mod_proxy_http.so"),
    ("auth_openidc_module", "mod_auth_openidc.so"),
];

/// A running `apache2 -X` with its own ServerRoot; stopped when dropped,
/// its error log printed if the test is failing.
struct Apache {
    child: Child,
    dir: TempDir,
    /// Where the protected resource is served, plain HTTP.
    addr: String,
}

impl Apache {
    /// Serves /sddc/index.txt under apache-resource-server.conf, which
    /// introspects at `tokend` (host:port, through a TLS front) with the
    /// introspection client `client_id`/`client_secret`. Echoes who the
    /// request was for in `X-User` and `X-Remote-User`.
    fn start(tokend: &str, client_id: &str, client_secret: &str) -> Apache {
        assert!(
            Path::new(APACHE).exists() && Path::new(MODULES).join("mod_auth_openidc.so").exists(),
            "apache2 and mod_auth_openidc are missing: .ci/run installs apache2 and \
             libapache2-mod-auth-openidc"
        );
        let dir = TempDir::new();
        let root = dir.path.display().to_string();
        fs::create_dir_all(dir.path.join("htdocs/sddc")).expect("htdocs");
        fs::write(dir.path.join("htdocs/sddc/index.txt"), "sddc\n").expect("index.txt");
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .args(["-keyout", "tls.key", "-out", "tls.crt"])
            .current_dir(&dir.path)
            .output()
            .expect("openssl runs");
        assert!(made.status.success(), "openssl: {made:?}");

        let port = free_port();
        let tls_port = free_port();
        let mut conf = format!(
            "ServerRoot {root}\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n\
             Listen 127.0.0.1:{tls_port}\nPidFile {root}/httpd.pid\n\
             ErrorLog {root}/error.log\nLogLevel warn\nDefaultRuntimeDir {root}\n"
        );
        for (name, file) in MODULES_LOADED {
            conf.push_str(&format!("LoadModule {name} {MODULES}/{file}\n"));
        }
        conf.push_str(&format!(
            "DocumentRoot {root}/htdocs\n\
             # tokend behind TLS\n\
             <VirtualHost 127.0.0.1:{tls_port}>\n    SSLEngine on\n\
             \x20   SSLCertificateFile {root}/tls.crt\n\
             \x20   SSLCertificateKeyFile {root}/tls.key\n\
             \x20   ProxyPass / http://{tokend}/\n</VirtualHost>\n\
             OIDCCABundlePath {root}/tls.crt\n\
             Include {}\n\
             <Location /sddc>\n\
             \x20   Header always set X-User \"%{{OIDC_CLAIM_username}}e\"\n\
             \x20   Header always set X-Remote-User \"expr=%{{REMOTE_USER}}\"\n\
             </Location>\n",
            scripts().join("apache-resource-server.conf").display()
        ));
        fs::write(dir.path.join("httpd.conf"), conf).expect("httpd.conf");

        let log = |name: &str| fs::File::create(dir.path.join(name)).expect("log file");
        let child = Command::new(APACHE)
            .args(["-X", "-f"])
            .arg(dir.path.join("httpd.conf"))
            .env("TOKEND_URL", format!("https://127.0.0.1:{tls_port}"))
            .env("TOKEND_CLIENT_ID", client_id)
            .env("TOKEND_CLIENT_SECRET", client_secret)
            .env("OIDC_CRYPTO_PASSPHRASE", b64url(&now_secs().to_be_bytes()))
            .stdin(Stdio::null())
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .spawn()
            .expect("apache2 starts");
        let mut apache = Apache {
            child,
            dir,
            addr: format!("127.0.0.1:{port}"),
        };
        apache.wait_listening(&[port, tls_port]);
        apache
    }

    fn wait_listening(&mut self, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("apache2 exited ({status}):\n{}", self.logs());
            }
            let listening = ports.iter().all(|p| {
                TcpStream::connect_timeout(
                    &format!("127.0.0.1:{p}").parse().expect("address"),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            if listening {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "apache2 does not listen:\n{}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        ["stdout.log", "stderr.log", "error.log"]
            .iter()
            .map(|f| fs::read_to_string(self.dir.path.join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// GET /sddc/index.txt, with `token` as a bearer token.
    fn get(&self, token: Option<&str>) -> Response {
        let auth = token.map(bearer);
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let request = build_request(&self.addr, "GET", "/sddc/index.txt", &headers, None);
        send_raw(&self.addr, &request, Duration::from_secs(15)).expect("apache2 answers")
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        send_signal(self.child.id(), "TERM");
        if wait_timeout(&mut self.child, Duration::from_secs(10)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!("---- apache2 logs ----\n{}\n----", self.logs());
        }
    }
}

#[test]
fn apache_mod_auth_openidc_admits_tokend_access_tokens_through_introspection() {
    let srv = TestServer::start();
    let acme = acme(&srv);
    let apache = Apache::start(srv.addr(), &acme.client_id, &acme.client_secret);
    let introspections = || srv.log().matches("POST /oauth/introspect").count();

    let token = access_token(&srv, &acme, &[("resource", VMC)]);
    let admitted = apache.get(Some(&token));
    admitted.assert_status(200, "an access token with vmc:sddc.read");
    assert_eq!(admitted.text(), "sddc\n");
    assert_eq!(
        admitted.header("X-User"),
        Some("alice"),
        "{}",
        admitted.describe()
    );
    let sub = jwt_parts(&token).1["sub"].clone();
    assert_eq!(admitted.header("X-Remote-User"), sub.as_str());
    // The answer is cached: tokend's tokens fit the cache as configured.
    // (The request log is read from the server's output as it comes.)
    let asked = eventually(Duration::from_secs(5), || {
        let asked = introspections();
        (asked > 0).then_some(asked)
    })
    .expect("the first request was introspected");
    apache
        .get(Some(&token))
        .assert_status(200, "the same token again");
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        introspections(),
        asked,
        "served from mod_auth_openidc's cache"
    );

    apache
        .get(Some(&acme.secret))
        .assert_status(401, "an API token as a bearer token");
    apache.get(None).assert_status(401, "no token");
    apache
        .get(Some(&flip_char(&token, token.len() - 10)))
        .assert_status(401, "a tampered token");

    // Meant for vmc among others: admitted. Not meant for vmc, or without
    // vmc:sddc.read: 403.
    let both = access_token(&srv, &acme, &[("resource", VRO), ("resource", VMC)]);
    apache
        .get(Some(&both))
        .assert_status(200, "a token for vro and vmc");
    let for_vro = access_token(&srv, &acme, &[("resource", VRO)]);
    apache
        .get(Some(&for_vro))
        .assert_status(403, "a token for vro");
    let for_issuer = access_token(&srv, &acme, &[]);
    apache
        .get(Some(&for_issuer))
        .assert_status(403, "a token without resource");
    srv.cli().user_add("bob@acme", &[ROLE_TOKEN_USER]);
    let bob = api_token(&srv, "bob@acme", "no-vmc", false);
    let bobs = exchange(&srv, &tenant_token_path("acme"), &bob, &[("resource", VMC)]);
    apache
        .get(Some(str_field(&bobs, "access_token")))
        .assert_status(403, "an access token without vmc:sddc.read");

    // Revoked before its first use: refused at once.
    let unused = access_token(&srv, &acme, &[("resource", VMC)]);
    srv.api()
        .try_revoke_presented(&unused)
        .assert_status(200, "revoke");
    apache
        .get(Some(&unused))
        .assert_status(401, "a revoked access token");
    // Revoked after use: refused once the cached answer is older than
    // OIDCOAuthTokenIntrospectionInterval (5 s).
    srv.api()
        .try_revoke_presented(&token)
        .assert_status(200, "revoke");
    let refused = eventually(Duration::from_secs(12), || {
        let status = apache.get(Some(&token)).status;
        thread::sleep(Duration::from_millis(200));
        (status == 401).then_some(())
    });
    assert!(
        refused.is_some(),
        "a revoked token is refused within the interval"
    );
}
