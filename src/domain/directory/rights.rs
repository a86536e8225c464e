//! tokend's own rights, the built-in roles that bundle them, and the limit on
//! access derived from an API token.
//!
//! A right is a permission of the service `tokend`, written
//! `tokend:token.manage-own`; its display name is the vendor's ("Manage
//! user's own API token"). Roles live in the database and may also hold the
//! permissions of other services; only tokend's own are decided here.
//! Access derived from an API token keeps only the view rights: it can never
//! change a password, manage users, create tokens, or view or revoke other
//! users' tokens.

use std::fmt;

/// The service whose permissions are tokend's own rights.
pub const TOKEND_SERVICE: &str = "tokend";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    /// Create, list and revoke one's own API tokens.
    TokenManageOwn,
    /// See the names of, and revoke, other users' tokens in one's org (every
    /// org, for the provider).
    TokenManageAll,
    UserView,
    UserManage,
    GroupView,
    GroupManage,
    RoleView,
    RoleManage,
    GlobalRoleView,
    GlobalRoleManage,
    RightsBundleView,
    RightsBundleManage,
    /// Held in the provider org: see every org.
    OrgView,
    OrgManage,
    AuditView,
}

impl Right {
    pub const ALL: [Right; 15] = [
        Right::TokenManageOwn,
        Right::TokenManageAll,
        Right::UserView,
        Right::UserManage,
        Right::GroupView,
        Right::GroupManage,
        Right::RoleView,
        Right::RoleManage,
        Right::GlobalRoleView,
        Right::GlobalRoleManage,
        Right::RightsBundleView,
        Right::RightsBundleManage,
        Right::OrgView,
        Right::OrgManage,
        Right::AuditView,
    ];

    /// The permission's name within the service `tokend`; stable, stored.
    pub fn permission_name(self) -> &'static str {
        match self {
            Right::TokenManageOwn => "token.manage-own",
            Right::TokenManageAll => "token.manage-all",
            Right::UserView => "user.view",
            Right::UserManage => "user.manage",
            Right::GroupView => "group.view",
            Right::GroupManage => "group.manage",
            Right::RoleView => "role.view",
            Right::RoleManage => "role.manage",
            Right::GlobalRoleView => "global-role.view",
            Right::GlobalRoleManage => "global-role.manage",
            Right::RightsBundleView => "rights-bundle.view",
            Right::RightsBundleManage => "rights-bundle.manage",
            Right::OrgView => "org.view",
            Right::OrgManage => "org.manage",
            Right::AuditView => "audit.view",
        }
    }

    /// `tokend:<permission>`, as roles, scopes and access tokens write it.
    pub fn id(self) -> String {
        format!("{TOKEND_SERVICE}:{}", self.permission_name())
    }

    /// The vendor's name, shown to people.
    pub fn name(self) -> &'static str {
        match self {
            Right::TokenManageOwn => "Manage user's own API token",
            Right::TokenManageAll => "Manage all users' API tokens",
            Right::UserView => "User: View",
            Right::UserManage => "User: Manage",
            Right::GroupView => "Group: View",
            Right::GroupManage => "Group: Manage",
            Right::RoleView => "Role: View",
            Right::RoleManage => "Role: Manage",
            Right::GlobalRoleView => "Global Role: View",
            Right::GlobalRoleManage => "Global Role: Manage",
            Right::RightsBundleView => "Rights Bundle: View",
            Right::RightsBundleManage => "Rights Bundle: Manage",
            Right::OrgView => "Organization: View",
            Right::OrgManage => "Organization: Manage",
            Right::AuditView => "Audit: View",
        }
    }

    /// The right a `service:permission` id names, if it is one of tokend's.
    pub fn from_id(id: &str) -> Option<Right> {
        let name = id.strip_prefix(TOKEND_SERVICE)?.strip_prefix(':')?;
        Right::ALL.into_iter().find(|r| r.permission_name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// A right that only reads, and that token-derived access keeps (seed
    /// 003: users, groups, roles, global roles, rights bundles; the org; and
    /// the audit trail, where the token's grant holds it).
    fn is_kept_view(self) -> bool {
        matches!(
            self,
            Right::UserView
                | Right::GroupView
                | Right::RoleView
                | Right::GlobalRoleView
                | Right::RightsBundleView
                | Right::OrgView
                | Right::AuditView
        )
    }

    /// The view right a manage right includes.
    fn implied_view(self) -> Option<Right> {
        match self {
            Right::UserManage => Some(Right::UserView),
            Right::GroupManage => Some(Right::GroupView),
            Right::RoleManage => Some(Right::RoleView),
            Right::GlobalRoleManage => Some(Right::GlobalRoleView),
            Right::RightsBundleManage => Some(Right::RightsBundleView),
            Right::OrgManage => Some(Right::OrgView),
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
    /// tokend's rights among `service:permission` ids, with the views their
    /// manage rights include. Other services' permissions, and ids this
    /// version does not know, grant nothing here.
    pub fn from_permissions<S: AsRef<str>>(ids: &[S]) -> RightSet {
        let mut set = RightSet::default();
        for right in ids.iter().filter_map(|id| Right::from_id(id.as_ref())) {
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
        for right in self.iter().filter(|r| r.is_kept_view()) {
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

/// The bundle published to every org, holding tokend's own rights.
pub const DEFAULT_RIGHTS_BUNDLE: &str = "Default Rights Bundle";

/// The role `tokend user add` grants when none is named: it cannot create
/// API tokens until an admin grants a role holding "Manage user's own API
/// token" (seed 003).
pub const DEFAULT_USER_ROLE: &str = ORGANIZATION_MEMBER;

/// The global roles written at first start (and by the migration that
/// introduced permissions).
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
            Right::TokenManageOwn,
            Right::TokenManageAll,
            Right::UserManage,
            Right::GroupManage,
            Right::RoleManage,
            Right::GlobalRoleView,
            Right::RightsBundleView,
            Right::OrgView,
            Right::AuditView,
        ],
    },
    BuiltinRole {
        name: TOKEN_USER,
        provider_only: false,
        rights: &[Right::TokenManageOwn, Right::OrgView],
    },
    BuiltinRole {
        name: ORGANIZATION_MEMBER,
        provider_only: false,
        rights: &[Right::OrgView],
    },
];

/// Whether a global role of this name is one of the built-in ones.
pub fn is_builtin_role(name: &str) -> bool {
    BUILTIN_ROLES
        .iter()
        .any(|r| r.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip_and_are_unique() {
        let mut names = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for right in Right::ALL {
            assert_eq!(Right::from_id(&right.id()), Some(right));
            assert!(names.insert(right.name()));
            assert!(ids.insert(right.id()));
        }
        assert_eq!(
            Right::from_id("tokend:token.manage-own"),
            Some(Right::TokenManageOwn)
        );
        assert_eq!(Right::from_id("vmc:token.manage-own"), None);
        assert_eq!(Right::from_id("tokendx:token.manage-own"), None);
    }

    #[test]
    fn token_derived_access_keeps_only_the_seed_003_views() {
        let all = RightSet::from_permissions(&Right::ALL.map(Right::id));
        let limited = all.view_only();
        for forbidden in [
            Right::TokenManageOwn,
            Right::TokenManageAll,
            Right::UserManage,
            Right::GroupManage,
            Right::RoleManage,
            Right::GlobalRoleManage,
            Right::RightsBundleManage,
            Right::OrgManage,
        ] {
            assert!(all.contains(forbidden));
            assert!(!limited.contains(forbidden), "{forbidden} survived");
        }
        for kept in [
            Right::UserView,
            Right::GroupView,
            Right::RoleView,
            Right::GlobalRoleView,
            Right::RightsBundleView,
            Right::OrgView,
            Right::AuditView,
        ] {
            assert!(limited.contains(kept), "{kept} lost");
        }
    }

    #[test]
    fn manage_rights_include_their_view_and_foreign_ids_grant_nothing() {
        let set =
            RightSet::from_permissions(&["tokend:user.manage", "vmc:sddc.read", "tokend:launch"]);
        assert!(set.contains(Right::UserView));
        assert_eq!(set.iter().count(), 2);
    }
}
