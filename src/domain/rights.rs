//! Rights, the built-in roles that bundle them, and the limit on access
//! derived from an API token.
//!
//! Roles live in the database (so that later custom roles need no code); the
//! rights they may name, and the built-in roles written at first start, are
//! defined here. Access derived from an API token keeps only the view rights
//! of the user: it can never change a password, manage users, create tokens,
//! or revoke tokens.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    /// See every org, not just one's own (provider).
    ViewAllOrganizations,
    ManageOrganizations,
    ViewUsers,
    ManageUsers,
    ChangeOwnPassword,
    ViewGroups,
    ViewRoles,
    ViewGlobalRoles,
    ViewRightsBundles,
    /// "Manage user's own API token": needed to create tokens.
    ManageOwnApiTokens,
    /// "Manage all users' API tokens": see names of, and revoke, other users'
    /// tokens in one's org (every org, for the provider).
    ManageAllApiTokens,
    ViewOwnApiTokens,
    ViewAllApiTokens,
}

impl Right {
    pub const ALL: [Right; 13] = [
        Right::ViewAllOrganizations,
        Right::ManageOrganizations,
        Right::ViewUsers,
        Right::ManageUsers,
        Right::ChangeOwnPassword,
        Right::ViewGroups,
        Right::ViewRoles,
        Right::ViewGlobalRoles,
        Right::ViewRightsBundles,
        Right::ManageOwnApiTokens,
        Right::ManageAllApiTokens,
        Right::ViewOwnApiTokens,
        Right::ViewAllApiTokens,
    ];

    /// The stable name stored in the database and shown to clients.
    pub fn name(self) -> &'static str {
        match self {
            Right::ViewAllOrganizations => "Organization: View All",
            Right::ManageOrganizations => "Organization: Manage",
            Right::ViewUsers => "User: View",
            Right::ManageUsers => "User: Manage",
            Right::ChangeOwnPassword => "User: Change Own Password",
            Right::ViewGroups => "Group: View",
            Right::ViewRoles => "Role: View",
            Right::ViewGlobalRoles => "Global Role: View",
            Right::ViewRightsBundles => "Rights Bundle: View",
            Right::ManageOwnApiTokens => "Manage user's own API token",
            Right::ManageAllApiTokens => "Manage all users' API tokens",
            Right::ViewOwnApiTokens => "View user's own API token",
            Right::ViewAllApiTokens => "View all users' API tokens",
        }
    }

    pub fn from_name(name: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// A right that only reads. These alone survive in token-derived access.
    fn is_view(self) -> bool {
        matches!(
            self,
            Right::ViewAllOrganizations
                | Right::ViewUsers
                | Right::ViewGroups
                | Right::ViewRoles
                | Right::ViewGlobalRoles
                | Right::ViewRightsBundles
                | Right::ViewOwnApiTokens
                | Right::ViewAllApiTokens
        )
    }

    /// The view right that a manage right includes.
    fn implied_view(self) -> Option<Right> {
        match self {
            Right::ManageUsers => Some(Right::ViewUsers),
            Right::ManageOwnApiTokens => Some(Right::ViewOwnApiTokens),
            Right::ManageAllApiTokens => Some(Right::ViewAllApiTokens),
            _ => None,
        }
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RightSet(u32);

impl RightSet {
    /// The rights named, with the views their manage rights include. Names
    /// this version does not know are ignored: they grant nothing.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> RightSet {
        let mut set = RightSet::default();
        for right in names.iter().filter_map(|n| Right::from_name(n.as_ref())) {
            set.insert(right);
            if let Some(view) = right.implied_view() {
                set.insert(view);
            }
        }
        set
    }

    pub fn insert(&mut self, right: Right) {
        self.0 |= right.bit();
    }

    pub fn contains(self, right: Right) -> bool {
        self.0 & right.bit() != 0
    }

    /// What remains when access is derived from an API token.
    pub fn view_only(self) -> RightSet {
        let mut set = RightSet::default();
        for right in self.iter().filter(|r| r.is_view()) {
            set.insert(right);
        }
        set
    }

    pub fn iter(self) -> impl Iterator<Item = Right> {
        Right::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

pub struct BuiltinRole {
    pub name: &'static str,
    pub provider_only: bool,
    pub rights: &'static [Right],
}

pub const SYSTEM_ADMINISTRATOR: &str = "System Administrator";
pub const ORGANIZATION_ADMINISTRATOR: &str = "Organization Administrator";
pub const TOKEN_USER: &str = "Token User";
pub const ORGANIZATION_MEMBER: &str = "Organization Member";

/// The role `tokend user add` grants when none is named: it cannot create
/// API tokens until an admin grants a role holding "Manage user's own API token".
pub const DEFAULT_USER_ROLE: &str = ORGANIZATION_MEMBER;

pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: SYSTEM_ADMINISTRATOR,
        provider_only: true,
        rights: &Right::ALL,
    },
    BuiltinRole {
        name: ORGANIZATION_ADMINISTRATOR,
        provider_only: false,
        rights: &[
            Right::ViewUsers,
            Right::ManageUsers,
            Right::ChangeOwnPassword,
            Right::ViewGroups,
            Right::ViewRoles,
            Right::ViewGlobalRoles,
            Right::ViewRightsBundles,
            Right::ManageOwnApiTokens,
            Right::ManageAllApiTokens,
        ],
    },
    BuiltinRole {
        name: TOKEN_USER,
        provider_only: false,
        rights: &[Right::ChangeOwnPassword, Right::ManageOwnApiTokens],
    },
    BuiltinRole {
        name: ORGANIZATION_MEMBER,
        provider_only: false,
        rights: &[Right::ChangeOwnPassword],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names = std::collections::HashSet::new();
        for right in Right::ALL {
            assert_eq!(Right::from_name(right.name()), Some(right));
            assert!(names.insert(right.name()));
        }
    }

    #[test]
    fn token_derived_access_keeps_only_view_rights() {
        let all = RightSet::from_names(&Right::ALL.map(Right::name));
        let limited = all.view_only();
        for forbidden in [
            Right::ManageOwnApiTokens,
            Right::ManageAllApiTokens,
            Right::ManageUsers,
            Right::ChangeOwnPassword,
            Right::ManageOrganizations,
        ] {
            assert!(all.contains(forbidden));
            assert!(!limited.contains(forbidden), "{forbidden} survived");
        }
        for kept in [
            Right::ViewUsers,
            Right::ViewGroups,
            Right::ViewRoles,
            Right::ViewGlobalRoles,
            Right::ViewRightsBundles,
            Right::ViewOwnApiTokens,
            Right::ViewAllApiTokens,
        ] {
            assert!(limited.contains(kept), "{kept} lost");
        }
    }

    #[test]
    fn manage_rights_include_their_view_and_unknown_names_grant_nothing() {
        let set = RightSet::from_names(&["Manage user's own API token", "Launch Missiles"]);
        assert!(set.contains(Right::ViewOwnApiTokens));
        assert_eq!(set.iter().count(), 2);
    }
}
