//! Integration tests for `tokend`: every test starts the real binary
//! (`tokend serve`) on a free loopback port with its own fresh SQLite
//! database, and talks to it over raw HTTP/1.1 and through its admin CLI.
//! The modules follow the behaviour contract: login sessions, the native
//! token API, the token exchange endpoints, using access tokens, JWT/JWKS
//! verification with an independent library, bad input, the CLI, what ends
//! up on disk and in logs, and process lifecycle (startup, restart, signals).
//! All tests are linked into this one binary.

mod access;
mod audience;
mod audit;
mod backup;
mod bad_input;
mod ceilings;
mod cli;
mod cli_verbs;
mod cloudapi;
mod console_http;
mod defences;
mod directory;
mod dpop;
mod exchange;
mod expiry;
mod forwarding;
mod health;
mod hostile;
mod interop;
mod introspection;
mod jwt;
mod jwt_bearer;
mod leaked;
mod lifecycle;
mod locked;
mod logs;
mod metrics;
mod names;
mod network_binding;
mod openid;
mod policy;
mod postgres;
mod readme;
mod reminders;
mod resource_servers;
mod revocation;
mod roles;
mod rotation;
mod schemathesis;
mod scopes;
mod sealed_keys;
mod second_factor;
mod service_accounts;
mod sessions;
mod storage;
mod support;
mod systemd;
mod tls;
mod tokens_api;
mod users;
mod vcloud;
mod webhooks;
