//! Roles (SPEC §1) and the actor performing a command: who they are, which
//! person they map to across platforms, and which roles they hold.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{DomainError, UserRef};

/// A role: a name from `[roles]` in the configuration (a team's own, such
/// as `partnership`), never a closed list. Which role may do what is also
/// configuration (e.g. `deletion.approver_role`); the constants below are
/// the defaults those keys fall back to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Role(Cow<'static, str>);

impl Role {
    pub const RELEASE_MANAGER: Role = Role(Cow::Borrowed("release-manager"));
    pub const QA: Role = Role(Cow::Borrowed("qa"));
    pub const PRODUCT: Role = Role(Cow::Borrowed("product"));
    pub const DEVOPS: Role = Role(Cow::Borrowed("devops"));
    pub const DATA_STEWARD: Role = Role(Cow::Borrowed("data-steward"));
    pub const SUPPORT: Role = Role(Cow::Borrowed("support"));
    /// Holds every other role.
    pub const ADMIN: Role = Role(Cow::Borrowed("admin"));

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    /// A well-formed name: lowercase letters, digits and `-`, starting with
    /// a letter. Whether the role exists is the configuration's to say.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut chars = s.chars();
        let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && s.len() <= 64;
        if well_formed {
            Ok(Role(Cow::Owned(s.to_string())))
        } else {
            Err(DomainError::invalid(format!(
                "`{s}` is not a role name: use lowercase letters, digits and `-`, e.g. data-steward"
            )))
        }
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
        r.0.into_owned()
    }
}

/// The roles one actor holds. `admin` implies every other role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Self(roles.into_iter().collect())
    }
    pub fn has(&self, role: &Role) -> bool {
        self.0.contains(role) || self.0.contains(&Role::ADMIN)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Role> + '_ {
        self.0.iter()
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
    pub fn has(&self, role: &Role) -> bool {
        self.roles.has(role)
    }

    /// Refuses unless the actor holds `role`, naming the role and the action.
    pub fn require(&self, role: &Role, action: &str) -> Result<(), DomainError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(self.not_member(std::slice::from_ref(role), action))
        }
    }

    /// The refusal of `action` to an actor holding none of `roles`: said to
    /// them, with the command an admin would run to grant the first role
    /// (the one place their address is needed).
    pub fn not_member(&self, roles: &[Role], action: &str) -> DomainError {
        let named: Vec<String> = roles.iter().map(|r| format!("`{r}`")).collect();
        let grant = roles.first().map(Role::as_str).unwrap_or("<role>");
        let (you, it) = if roles.len() > 1 {
            ("you hold none of these roles", "one")
        } else {
            ("you do not hold it", "it")
        };
        DomainError::forbidden(format!(
            "only {} members can {action}; {you} (an admin can grant {it}: /role grant {grant} {})",
            named.join(" or "),
            self.user
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_every_role_and_any_well_formed_name_is_a_role() {
        let admin = RoleSet::new([Role::ADMIN]);
        let partnership: Role = "partnership".parse().unwrap();
        assert!(admin.has(&Role::QA) && admin.has(&partnership));
        let qa = RoleSet::new([Role::QA]);
        assert!(qa.has(&Role::QA) && !qa.has(&Role::PRODUCT));
        assert_eq!("qa".parse::<Role>().unwrap(), Role::QA);
        assert!(
            "Bogus Role"
                .parse::<Role>()
                .unwrap_err()
                .to_string()
                .contains("not a role name")
        );
    }
}
