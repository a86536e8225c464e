//! The admin CLI on a server's database, one method per subcommand
//! (`org add`, `user add`, `token create|list|revoke`), each asserting
//! success and returning what the command prints in typed form. `run` is
//! there for the invocations a test expects to fail.

use std::path::{Path, PathBuf};

use super::formats::{is_token_format, uuids_in};
use super::process::{run_tokend, CliOutput};
use super::USER_PASSWORD;

/// `tokend --db <db> ...` run in the server's directory.
pub struct Cli<'a> {
    db: &'a Path,
    cwd: &'a Path,
    /// TOKEND_KEY_FILE, when not the default beside the SQLite file.
    key_file: Option<PathBuf>,
}

/// What `token create` reports: the secret on stdout, the id on stderr.
#[derive(Debug, Clone)]
pub struct CliToken {
    pub id: String,
    pub secret: String,
}

/// One row of the `token list` table; the time columns are left out.
#[derive(Debug, Clone)]
pub struct CliTokenRow {
    pub id: String,
    /// `user@org`.
    pub owner: String,
    pub name: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// The networks it may be exchanged from, comma-separated, or `any`.
    pub networks: String,
}

impl<'a> Cli<'a> {
    pub(super) fn new(db: &'a Path, cwd: &'a Path, key_file: Option<PathBuf>) -> Cli<'a> {
        Cli { db, cwd, key_file }
    }

    /// Run `tokend --db <db> ARGS...` with `stdin`, whatever its outcome.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let db = self.db.to_string_lossy().into_owned();
        let mut full: Vec<&str> = vec!["--db", &db];
        full.extend_from_slice(args);
        let key_file = self
            .key_file
            .as_ref()
            .map(|path| path.to_string_lossy().into_owned());
        let envs: Vec<(&str, &str)> = key_file
            .iter()
            .map(|path| ("TOKEND_KEY_FILE", path.as_str()))
            .collect();
        run_tokend(&full, stdin, &envs, self.cwd)
    }

    /// `org add NAME`; the new org's id.
    pub fn org_add(&self, name: &str) -> String {
        self.run(&["org", "add", name], None)
            .ok(&format!("org add {name}"))
            .stdout
            .trim()
            .to_owned()
    }

    /// `user add USER@ORG [--role R]...` with `USER_PASSWORD`.
    pub fn user_add(&self, user: &str, roles: &[&str]) {
        self.user_add_with_password(user, USER_PASSWORD, roles);
    }

    /// `user add USER@ORG [--role R]...` with `password` on stdin.
    pub fn user_add_with_password(&self, user: &str, password: &str, roles: &[&str]) {
        let mut args = vec!["user", "add", user];
        for r in roles {
            args.push("--role");
            args.push(r);
        }
        self.run(&args, Some(&format!("{password}\n")))
            .ok(&format!("user add {user} {roles:?}"));
    }

    /// `service add NAME --permission P...`.
    pub fn service_add(&self, name: &str, permissions: &[&str]) {
        let mut args = vec!["service", "add", name];
        for p in permissions {
            args.extend(["--permission", p]);
        }
        self.run(&args, None).ok(&format!("service add {name}"));
    }

    /// `role add NAME (--org ORG | --global) [--service S] --permission P...`.
    pub fn role_add(
        &self,
        name: &str,
        org: Option<&str>,
        service: Option<&str>,
        permissions: &[&str],
    ) {
        let mut args = vec!["role", "add", name];
        match org {
            Some(org) => args.extend(["--org", org]),
            None => args.push("--global"),
        }
        if let Some(service) = service {
            args.extend(["--service", service]);
        }
        for p in permissions {
            args.extend(["--permission", p]);
        }
        self.run(&args, None).ok(&format!("role add {name}"));
    }

    /// `bundle add NAME --permission P...`, then `bundle publish NAME ORG`.
    pub fn bundle_publish_new(&self, name: &str, permissions: &[&str], org: &str) {
        let mut args = vec!["bundle", "add", name];
        for p in permissions {
            args.extend(["--permission", p]);
        }
        self.run(&args, None).ok(&format!("bundle add {name}"));
        self.run(&["bundle", "publish", name, org], None)
            .ok(&format!("bundle publish {name} {org}"));
    }

    /// `role grant USER@ORG ROLE` or `role revoke USER@ORG ROLE`.
    pub fn role_set(&self, verb: &str, user: &str, role: &str) {
        self.run(&["role", verb, user, role], None)
            .ok(&format!("role {verb} {user} {role}"));
    }

    /// `token create USER@ORG --name NAME [--ttl TTL]`.
    pub fn token_create(&self, user: &str, name: &str, ttl: Option<&str>) -> CliToken {
        let mut args = vec!["token", "create", user, "--name", name];
        if let Some(t) = ttl {
            args.push("--ttl");
            args.push(t);
        }
        let out = self
            .run(&args, None)
            .ok(&format!("token create {user} {name}"));
        let secret = out.stdout.lines().next().unwrap_or("").trim().to_owned();
        assert!(is_token_format(&secret), "CLI printed no token: {out:#?}");
        let ids = uuids_in(&out.stderr);
        assert_eq!(ids.len(), 1, "the token id on stderr: {out:#?}");
        CliToken {
            id: ids[0].clone(),
            secret,
        }
    }

    /// `token list FILTERS...` as printed.
    pub fn token_list(&self, filters: &[&str]) -> String {
        let mut args = vec!["token", "list"];
        args.extend_from_slice(filters);
        self.run(&args, None).ok("token list").stdout
    }

    /// `token list FILTERS...`, one entry per table row. Columns are
    /// separated by at least two spaces, which no test's token name holds.
    pub fn token_rows(&self, filters: &[&str]) -> Vec<CliTokenRow> {
        let table = self.token_list(filters);
        let mut lines = table.lines();
        let header = lines.next().unwrap_or("");
        assert!(header.starts_with("ID"), "table header: {table}");
        lines
            .map(|line| {
                let cells: Vec<&str> = line
                    .split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect();
                // ID, OWNER, NAME, CREATED, EXPIRES, LAST USED, LAST CLIENT,
                // STATUS, NETWORKS.
                let [id, owner, name, _, _, _, _, status, networks] = cells[..] else {
                    panic!("token list row has 9 columns: {line:?}");
                };
                CliTokenRow {
                    id: id.to_owned(),
                    owner: owner.to_owned(),
                    name: name.to_owned(),
                    status: status.to_owned(),
                    networks: networks.to_owned(),
                }
            })
            .collect()
    }

    pub fn token_revoke(&self, id: &str) {
        self.run(&["token", "revoke", id], None)
            .ok(&format!("token revoke {id}"));
    }
}
