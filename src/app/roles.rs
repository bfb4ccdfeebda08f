//! Identity and roles: who an invoker is (their person across platforms and
//! their roles from `[roles]` plus run-time grants), and `/role grant|revoke|list`.

use super::context::Handled;
use super::feature::{Feature, Input};
use super::mention::parse_user;
use super::{Ctx, Line, Message, Reply};
use crate::domain::{Actor, DomainError, MemberRef, Platform, Role, RoleSet, UserRef};
use crate::grammar::spec::pos;
use crate::grammar::{CommandSpec, SubSpec};
use crate::settings::Config;
use crate::store;

pub static ROLE: CommandSpec = CommandSpec {
    name: "role",
    summary: "Grant, revoke and list roles (admin)",
    default_sub: None,
    subs: &[
        SubSpec {
            name: "grant",
            summary: "Grant a role to a user (admin)",
            params: &[
                pos("role", "role", "the role, e.g. qa"),
                pos("user", "user", "a mention or address, e.g. slack:U024BE7LH"),
            ],
        },
        SubSpec {
            name: "revoke",
            summary: "Revoke a role granted at run time (admin)",
            params: &[
                pos("role", "role", "the role, e.g. qa"),
                pos("user", "user", "a mention or address"),
            ],
        },
        SubSpec {
            name: "list",
            summary: "List who holds which role",
            params: &[],
        },
    ],
};

/// One `/role` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleCommand {
    Grant { role: Role, member: MemberRef },
    Revoke { role: Role, member: MemberRef },
    List,
}

impl TryFrom<Input<'_>> for RoleCommand {
    type Error = DomainError;

    fn try_from(input: Input<'_>) -> Result<Self, DomainError> {
        let role = || {
            let name = input.required("role")?;
            let roles = &input.config.directory.roles;
            match name.parse::<Role>() {
                Ok(role) if roles.contains_key(&role) => Ok(role),
                _ => {
                    let known: Vec<&str> = roles.keys().map(Role::as_str).collect();
                    Err(DomainError::invalid(format!(
                        "unknown role `{name}`: roles are {} (a new role is added under [roles] in the config file)",
                        known.join(", ")
                    )))
                }
            }
        };
        let member = || member_arg(input.required("user")?, input.platform);
        Ok(match input.sub() {
            "grant" => RoleCommand::Grant {
                role: role()?,
                member: member()?,
            },
            "revoke" => RoleCommand::Revoke {
                role: role()?,
                member: member()?,
            },
            "list" => RoleCommand::List,
            _ => return Err(input.unknown()),
        })
    }
}

/// Roles granted and revoked at run time.
pub struct Roles;

impl Feature for Roles {
    const COMMANDS: &'static [&'static CommandSpec] = &[&ROLE];
    type Command = RoleCommand;

    async fn handle(ctx: &mut Ctx<'_>, command: RoleCommand) -> Handled<Reply> {
        match command {
            RoleCommand::Grant { role, member } => grant(ctx, role, member, true).await,
            RoleCommand::Revoke { role, member } => grant(ctx, role, member, false).await,
            RoleCommand::List => list(ctx).await,
        }
    }
}

/// Resolves the actor: person key, and roles from config and the run-time
/// `grants` (every grant as (role, member), read once per transaction).
pub fn actor_with(
    config: &Config,
    user: &UserRef,
    platform_roles: &[String],
    grants: &[(String, String)],
) -> Actor {
    let dir = &config.directory;
    let identities = dir.identities_of(user);
    let mut roles = dir.configured_roles(&identities, platform_roles);
    let mut members: Vec<String> = identities.iter().map(UserRef::to_string).collect();
    members.extend(platform_roles.iter().map(|id| format!("discord-role:{id}")));
    for (granted, _) in grants.iter().filter(|(_, member)| members.contains(member)) {
        if let Ok(role) = granted.parse::<Role>() {
            roles.insert(role);
        }
    }
    Actor {
        user: user.clone(),
        person: dir.person_of(user),
        roles: RoleSet::new(roles),
    }
}

/// Everyone holding `role`, from config and grants (for mentions).
pub async fn members_of(ctx: &mut Ctx<'_>, role: &Role) -> Handled<Vec<MemberRef>> {
    let mut members = ctx
        .app
        .config
        .directory
        .roles
        .get(role)
        .cloned()
        .unwrap_or_default();
    for (r, m) in ctx.grants().await? {
        if r == role.as_str()
            && let Ok(member) = m.parse::<MemberRef>()
            && !members.contains(&member)
        {
            members.push(member);
        }
    }
    Ok(members)
}

fn member_arg(s: &str, platform: Platform) -> Result<MemberRef, DomainError> {
    if s.starts_with("discord-role:") || s.starts_with("slack-group:") {
        return s.parse();
    }
    if let Some(id) = s.strip_prefix("<@&").and_then(|r| r.strip_suffix('>')) {
        return format!("discord-role:{id}").parse();
    }
    parse_user(s, platform).map(MemberRef::User)
}

async fn grant(ctx: &mut Ctx<'_>, role: Role, member: MemberRef, granting: bool) -> Handled<Reply> {
    let verb = if granting { "grant" } else { "revoke" };
    ctx.actor.require(&Role::ADMIN, &format!("{verb} roles"))?;
    let key = member.to_string();
    let by = ctx.actor.user.to_string();
    if granting {
        if !store::roles::grant(&mut ctx.db, role.as_str(), &key, &by, ctx.now).await? {
            return Err(
                DomainError::conflict(format!("{key} already holds `{role}` by a grant")).into(),
            );
        }
    } else if !store::roles::revoke(&mut ctx.db, role.as_str(), &key).await? {
        let in_config = ctx
            .app
            .config
            .directory
            .roles
            .get(&role)
            .is_some_and(|m| m.contains(&member));
        let why = if in_config {
            format!("{key} holds `{role}` from the config file ([roles] {role}); remove it there")
        } else {
            format!("{key} has no run-time grant of `{role}`")
        };
        return Err(DomainError::conflict(why).into());
    }
    ctx.audit(&format!("role:{role}"), verb, &key);
    let line = match &member {
        MemberRef::User(u) => Line::new()
            .text(format!(
                "{} `{role}` ",
                if granting { "Granted" } else { "Revoked" }
            ))
            .text(if granting { "to " } else { "from " })
            .user(u),
        MemberRef::DiscordRole(_) | MemberRef::SlackGroup(_) => Line::new().text(format!(
            "{} `{role}` {} {key}",
            if granting { "Granted" } else { "Revoked" },
            if granting { "to" } else { "from" }
        )),
    };
    Ok(Reply::in_channel(Message::new().line(line)))
}

async fn list(ctx: &mut Ctx<'_>) -> Handled<Reply> {
    let grants = store::roles::all(&mut ctx.db).await?;
    let mut message =
        Message::text("Roles (config = [roles] in the config file; granted = /role grant):");
    for role in ctx.app.config.directory.roles.keys() {
        let configured: Vec<String> = ctx
            .app
            .config
            .directory
            .roles
            .get(role)
            .map(|m| m.iter().map(|m| format!("{m} (config)")).collect())
            .unwrap_or_default();
        let granted = grants
            .iter()
            .filter(|(r, _)| r == role.as_str())
            .map(|(_, m)| format!("{m} (granted)"));
        let all: Vec<String> = configured.into_iter().chain(granted).collect();
        let who = if all.is_empty() {
            "nobody".to_string()
        } else {
            all.join(", ")
        };
        message = message.line(Line::new().text(format!("  {role}: {who}")));
    }
    Ok(Reply::private(message))
}
