//! Organizations: adding a tenant org and finding one by name. The
//! provider org `System` is made at first start (`Authority::start`).

use crate::domain::records::Org;
use crate::domain::{Actor, Authority, DomainError, Right};

const MAX_ORG_NAME: usize = 64;

impl Authority {
    /// Adds a tenant org: the provider, with "Organization: Manage".
    pub fn add_org(&mut self, by: Actor<'_>, name: &str) -> Result<Org, DomainError> {
        self.require_provider_to(by, Right::OrgManage, "add organizations")?;
        let valid = !name.is_empty()
            && name.len() <= MAX_ORG_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(DomainError::Invalid(format!(
                "org name {name:?} must be 1-{MAX_ORG_NAME} characters of A-Z, a-z, 0-9, '.', '_', '-'"
            )));
        }
        let org = Org {
            id: self.new_id()?,
            name: name.to_string(),
            is_provider: false,
            created_at: self.now(),
        };
        let record = org.clone();
        let event = self
            .event_by(by, "org.create")?
            .on("org", &org.id, &org.name)
            .in_org(&org.id);
        self.write_recorded(event, move |tx| {
            tx.insert_org(&record)?;
            // A tenant starts with the bundles the provider marked for new
            // orgs (the Default Rights Bundle unless changed).
            tx.publish_new_org_bundles(&record.id)?;
            Ok(())
        })
        .map_err(|e| match e.into() {
            DomainError::Conflict(_) => {
                DomainError::Conflict(format!("org {name:?} already exists"))
            }
            other => other,
        })?;
        Ok(org)
    }

    /// An org by name (the CLI's look-up).
    pub fn org(&self, name: &str) -> Result<Org, DomainError> {
        self.db()
            .org_by_name(name)?
            .ok_or_else(|| DomainError::NotFound(format!("org {name:?} does not exist")))
    }
}
