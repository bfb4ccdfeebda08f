//! Roles (SPEC §1) and the actor performing a command: who they are, which
//! person they map to across platforms, and which roles they hold.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{DomainError, UserRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Role {
    ReleaseManager,
    Qa,
    Product,
    Devops,
    DataSteward,
    Support,
    Admin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::ReleaseManager,
        Role::Qa,
        Role::Product,
        Role::Devops,
        Role::DataSteward,
        Role::Support,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReleaseManager => "release-manager",
            Role::Qa => "qa",
            Role::Product => "product",
            Role::Devops => "devops",
            Role::DataSteward => "data-steward",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }

    pub fn names() -> String {
        Role::ALL.map(Role::as_str).join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(format!("unknown role `{s}`: roles are {}", Role::names()))
            })
    }
}

impl TryFrom<String> for Role {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Role> for String {
    fn from(r: Role) -> String {
        r.as_str().to_string()
    }
}

/// The roles one actor holds. `admin` implies every other role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Self(roles.into_iter().collect())
    }
    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role) || self.0.contains(&Role::Admin)
    }
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
}

/// Who is acting: their platform identity, the person it maps to (the same
/// person on Slack and Discord shares one key), and their roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: UserRef,
    pub person: String,
    pub roles: RoleSet,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.has(role)
    }

    /// Refuses unless the actor holds `role`, naming the role and the action.
    pub fn require(&self, role: Role, action: &str) -> Result<(), DomainError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(DomainError::forbidden(format!(
                "only `{role}` members can {action}; {} is not one (an admin can grant it with /role grant {role} {})",
                self.user, self.user
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_every_role() {
        let admin = RoleSet::new([Role::Admin]);
        assert!(Role::ALL.iter().all(|r| admin.has(*r)));
        let qa = RoleSet::new([Role::Qa]);
        assert!(qa.has(Role::Qa) && !qa.has(Role::Product));
        assert!(
            "bogus"
                .parse::<Role>()
                .unwrap_err()
                .to_string()
                .contains("data-steward")
        );
    }
}
