//! Tokens as the admin CLI lists them, by org and user name, with the
//! authority of the database file; and the bulk creation the benchmark
//! seeds with.

use std::collections::VecDeque;

use crate::domain::records::{ApiTokenFilter, ApiTokenListing, TokenScope};
use crate::domain::storage::{Durability, PendingCommit};
use crate::domain::tokens::{CreatedApiToken, NewApiToken};
use crate::domain::{Authority, DomainError};

/// Which tokens `tokend token list` shows.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub org_name: Option<String>,
    /// A user of `org_name` (which it needs).
    pub user_name: Option<String>,
    pub include_revoked: bool,
}

impl Authority {
    /// Creates `count` tokens for `user_name@org_name`, named
    /// `{name}-{n}`, handing each to `created` once it is committed. The
    /// writes share commits, so a large set is made in seconds (the
    /// benchmark's seed).
    pub fn create_api_tokens_in_bulk(
        &mut self,
        org_name: &str,
        user_name: &str,
        name: &str,
        count: usize,
        mut created: impl FnMut(CreatedApiToken),
    ) -> Result<(), DomainError> {
        /// Tokens waiting for their commit at once.
        const IN_FLIGHT: usize = 4096;
        let user_id = self.user_id(org_name, user_name)?;
        let account = self
            .db()
            .account(&user_id)?
            .ok_or_else(|| DomainError::NotFound(format!("no user {user_name:?}")))?;
        let mut waiting: VecDeque<(CreatedApiToken, PendingCommit)> =
            VecDeque::with_capacity(IN_FLIGHT);
        for n in 0..count {
            while waiting.len() >= IN_FLIGHT {
                if let Some((token, commit)) = waiting.pop_front() {
                    commit.wait()?;
                    created(token);
                }
            }
            let event = self.operator_event("token.create")?.in_org(&account.org.id);
            let (token, write) = self.new_api_token(
                &user_id,
                NewApiToken {
                    name: &format!("{name}-{n}"),
                    ttl: None,
                    scope: TokenScope::AllRoles,
                    openid: false,
                    request_id: None,
                    bound_cidrs: &[],
                },
                event,
            )?;
            waiting.push_back((token, self.store.submit_write(write, Durability::Durable)?));
        }
        for (token, commit) in waiting {
            commit.wait()?;
            created(token);
        }
        Ok(())
    }

    /// The tokens of an org, of one user (by org and name: an unknown
    /// user is an error, not an empty list), or of everyone.
    pub fn api_tokens(&self, query: &TokenQuery) -> Result<Vec<ApiTokenListing>, DomainError> {
        let (org_id, owner_id) = match (&query.org_name, &query.user_name) {
            (Some(org), Some(user)) => (None, Some(self.user_id(org, user)?)),
            (Some(org), None) => (Some(self.org(org)?.id), None),
            (None, Some(user)) => {
                return Err(DomainError::Invalid(format!(
                    "name the user with its org, as {user}@ORG"
                )))
            }
            (None, None) => (None, None),
        };
        let filter = ApiTokenFilter {
            owner_id,
            org_id,
            include_revoked: query.include_revoked,
            ..ApiTokenFilter::default()
        };
        Ok(self.db().api_tokens(&filter)?.tokens)
    }
}
