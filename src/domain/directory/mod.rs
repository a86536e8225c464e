//! The directory: who exists and what they may do. Orgs, users, groups,
//! roles (org and service roles, global or local), the services and their
//! permissions, rights bundles, tokend's own rights, and what a name may
//! contain. Changes by a caller go through the rights checks in `access`.

pub(in crate::domain) mod catalog;
pub(in crate::domain) mod lookups;
pub(in crate::domain) mod names;
pub(in crate::domain) mod orgs;
pub(in crate::domain) mod password;
pub(in crate::domain) mod rights;
pub(in crate::domain) mod users;
