//! Token scopes, and the grant they come to at a given moment.
//!
//! A token is scoped to all of its user's roles, or to some org roles and
//! service roles (a service role narrowed, if asked, to some of its
//! permissions). At every exchange the grant is the scope intersected with
//! what the user holds *then*: a role taken away since the token was made
//! is simply absent, and "all roles" never exceeds the user.

use crate::domain::directory::rights::{Right, RightSet};
use crate::domain::records::{Account, ServiceRoleScope, TokenScope};
use crate::domain::DomainError;

/// What an access token grants: role names (`service/role` for service
/// roles) and `service:permission` ids, both sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

impl Grant {
    /// The permissions in force: other services' as granted (their
    /// resource servers decide on them), tokend's own as rights, with the
    /// views their manage rights include.
    fn in_force(self, rights: RightSet) -> Grant {
        let mut permissions: Vec<String> = self
            .permissions
            .into_iter()
            .filter(|p| Right::from_id(p).is_none())
            .chain(rights.iter().map(Right::id))
            .collect();
        permissions.sort();
        permissions.dedup();
        Grant {
            roles: self.roles,
            permissions,
        }
    }

    /// What a password session holds: the grant, tokend's rights in full.
    pub fn for_session(self) -> Grant {
        let rights = RightSet::from_permissions(&self.permissions);
        self.in_force(rights)
    }

    /// What access derived from an API token holds (seed 003): tokend's
    /// own rights cut to the views, so no token, answer or introspection
    /// shows a right it cannot use.
    pub fn token_derived(self) -> Grant {
        let rights = RightSet::from_permissions(&self.permissions).view_only();
        self.in_force(rights)
    }
}

impl TokenScope {
    /// Checks the scope against what `account` holds now: asking for a
    /// role or permission the user does not hold is refused, naming it.
    /// Returns the scope with permissions written in full.
    pub fn checked(self, account: &Account) -> Result<TokenScope, DomainError> {
        let TokenScope::Roles {
            org_roles,
            service_roles,
        } = self
        else {
            return Ok(TokenScope::AllRoles);
        };
        if org_roles.is_empty() && service_roles.is_empty() {
            return Err(DomainError::Invalid(
                "a token's scope names at least one role, or all_roles".into(),
            ));
        }
        let held_roles = account.held_roles();
        for name in &org_roles {
            let held = held_roles
                .iter()
                .any(|r| r.service.is_none() && r.name.eq_ignore_ascii_case(name));
            if !held {
                return Err(DomainError::Invalid(format!(
                    "the user does not hold the org role {name:?}"
                )));
            }
        }
        let mut checked = Vec::with_capacity(service_roles.len());
        for scope in service_roles {
            let role = held_roles
                .iter()
                .find(|r| scope.matches(r.service.as_deref(), &r.name))
                .ok_or_else(|| {
                    DomainError::Invalid(format!(
                        "the user does not hold the service role {}/{}",
                        scope.service, scope.role
                    ))
                })?;
            let permissions = match scope.permissions {
                None => None,
                Some(asked) => {
                    let mut full = Vec::with_capacity(asked.len());
                    for permission in asked {
                        let id = if permission.contains(':') {
                            permission
                        } else {
                            format!("{}:{permission}", scope.service)
                        };
                        if !role.permissions.iter().any(|p| p.eq_ignore_ascii_case(&id)) {
                            return Err(DomainError::Invalid(format!(
                                "the service role {}/{} does not hold {id:?}",
                                scope.service, scope.role
                            )));
                        }
                        full.push(id);
                    }
                    Some(full)
                }
            };
            checked.push(ServiceRoleScope {
                permissions,
                ..scope
            });
        }
        Ok(TokenScope::Roles {
            org_roles,
            service_roles: checked,
        })
    }

    /// The scope intersected with what `account` holds now.
    pub fn grant(&self, account: &Account) -> Grant {
        let mut grant = Grant::default();
        for role in &account.held_roles() {
            let permissions: Vec<&String> = match self {
                TokenScope::AllRoles => role.permissions.iter().collect(),
                TokenScope::Roles {
                    org_roles,
                    service_roles,
                } => match &role.service {
                    None if org_roles.iter().any(|n| n.eq_ignore_ascii_case(&role.name)) => {
                        role.permissions.iter().collect()
                    }
                    None => continue,
                    Some(service) => {
                        let Some(scope) = service_roles
                            .iter()
                            .find(|s| s.matches(Some(service), &role.name))
                        else {
                            continue;
                        };
                        role.permissions
                            .iter()
                            .filter(|p| {
                                scope.permissions.as_ref().is_none_or(|asked| {
                                    asked.iter().any(|a| a.eq_ignore_ascii_case(p))
                                })
                            })
                            .collect()
                    }
                },
            };
            grant.roles.push(role.qualified_name());
            grant.permissions.extend(permissions.into_iter().cloned());
        }
        grant.roles.sort();
        grant.roles.dedup();
        grant.permissions.sort();
        grant.permissions.dedup();
        grant
    }
}

impl ServiceRoleScope {
    fn matches(&self, service: Option<&str>, role: &str) -> bool {
        service.is_some_and(|s| s.eq_ignore_ascii_case(&self.service))
            && role.eq_ignore_ascii_case(&self.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::records::{HeldRole, Org};

    fn alice() -> Account {
        Account {
            user_id: "u".into(),
            user_name: "alice".into(),
            service_account: false,
            email: None,
            display_name: None,
            disabled: false,
            org: Org {
                id: "o".into(),
                name: "acme".into(),
                is_provider: false,
                created_at: 0,
            },
            roles: vec![
                HeldRole {
                    name: "Token User".into(),
                    published_here: true,
                    service: None,
                    permissions: vec!["tokend:org.view".into(), "tokend:token.manage-own".into()],
                },
                HeldRole {
                    name: "operator".into(),
                    published_here: true,
                    service: Some("vmc".into()),
                    permissions: vec!["vmc:sddc.read".into(), "vmc:sddc.write".into()],
                },
            ],
            permission_cap: None,
        }
    }

    fn reader() -> TokenScope {
        TokenScope::Roles {
            org_roles: vec![],
            service_roles: vec![ServiceRoleScope {
                service: "vmc".into(),
                role: "operator".into(),
                permissions: Some(vec!["sddc.read".into()]),
            }],
        }
    }

    #[test]
    fn all_roles_is_everything_the_user_holds_and_no_more() {
        let grant = TokenScope::AllRoles.grant(&alice());
        assert_eq!(grant.roles, ["Token User", "vmc/operator"]);
        assert_eq!(grant.permissions, alice().permissions());
    }

    #[test]
    fn a_narrowed_service_role_grants_only_what_was_asked() {
        let scope = reader().checked(&alice()).unwrap();
        let grant = scope.grant(&alice());
        assert_eq!(grant.roles, ["vmc/operator"]);
        assert_eq!(grant.permissions, ["vmc:sddc.read"]);
    }

    #[test]
    fn a_role_taken_away_is_absent_from_the_next_grant() {
        let scope = reader().checked(&alice()).unwrap();
        let mut later = alice();
        later.roles.retain(|r| r.service.is_none());
        assert_eq!(scope.grant(&later), Grant::default());
        let everything = TokenScope::AllRoles.grant(&later);
        assert_eq!(everything.roles, ["Token User"]);
    }

    #[test]
    fn the_orgs_bundles_cap_every_grant() {
        let mut capped = alice();
        capped.permission_cap = Some(vec![
            "tokend:token.manage-own".into(),
            "vmc:sddc.read".into(),
        ]);
        let grant = TokenScope::AllRoles.grant(&capped);
        assert_eq!(
            grant.permissions,
            ["tokend:token.manage-own", "vmc:sddc.read"]
        );
        let write = TokenScope::Roles {
            org_roles: vec![],
            service_roles: vec![ServiceRoleScope {
                service: "vmc".into(),
                role: "operator".into(),
                permissions: Some(vec!["vmc:sddc.write".into()]),
            }],
        };
        assert!(
            write.checked(&capped).is_err(),
            "a capped permission cannot be asked for"
        );
    }

    #[test]
    fn asking_for_more_than_the_user_holds_is_refused() {
        let wider = TokenScope::Roles {
            org_roles: vec!["Organization Administrator".into()],
            service_roles: vec![],
        };
        assert!(
            matches!(wider.checked(&alice()), Err(DomainError::Invalid(m)) if m.contains("Organization Administrator"))
        );
        let foreign = TokenScope::Roles {
            org_roles: vec![],
            service_roles: vec![ServiceRoleScope {
                service: "vmc".into(),
                role: "operator".into(),
                permissions: Some(vec!["vmc:sddc.delete".into()]),
            }],
        };
        assert!(
            matches!(foreign.checked(&alice()), Err(DomainError::Invalid(m)) if m.contains("sddc.delete"))
        );
        let empty = TokenScope::Roles {
            org_roles: vec![],
            service_roles: vec![],
        };
        assert!(empty.checked(&alice()).is_err());
    }
}
