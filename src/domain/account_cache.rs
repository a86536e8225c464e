//! Accounts as last read, kept while the directory generation stands still.
//!
//! An account (user, org, roles from the user and its groups, their
//! permissions, the org's bundle cap) takes several joins to read, and every
//! request and exchange needs one. The store bumps a generation on every
//! change to anything an account is made of; each request still reads that
//! generation, and an account read at another generation is read afresh. So
//! a grant, a revocation or a disabled user counts from the very next
//! request, as when every request read the account whole.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::domain::records::Account;

/// Accounts kept at most; past it the cache starts afresh.
const MAX_ACCOUNTS: usize = 10_000;

#[derive(Default)]
pub struct AccountCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    generation: i64,
    accounts: HashMap<String, Account>,
}

impl AccountCache {
    /// The account of `user_id` as read at `generation`, if kept.
    pub fn get(&self, generation: i64, user_id: &str) -> Option<Account> {
        let state = self.lock();
        if state.generation != generation {
            return None;
        }
        state.accounts.get(user_id).cloned()
    }

    /// Keeps `account`, read at `generation` or later.
    pub fn insert(&self, generation: i64, account: &Account) {
        let mut state = self.lock();
        if state.generation != generation || state.accounts.len() >= MAX_ACCOUNTS {
            state.accounts.clear();
            state.generation = generation;
        }
        state
            .accounts
            .insert(account.user_id.clone(), account.clone());
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
