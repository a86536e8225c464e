//! OAuth beyond the exchange of an API token: the clients users register
//! (RFC 7523 JWT bearer), introspection for resource servers (RFC 7662),
//! and service accounts with their device flow (RFC 8628).

pub(in crate::domain) mod clients;
pub(in crate::domain) mod introspection;
pub(in crate::domain) mod service_accounts;
