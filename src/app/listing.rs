//! What `list` and `show` subcommands share: the `state:` filter of a list
//! (`open`, the default, `all`, or one state), and the audit history a
//! record's `show` ends with.

use std::str::FromStr;

use super::context::Handled;
use super::feature::Input;
use super::message::local;
use super::{Ctx, Line, Message};
use crate::domain::DomainError;
use crate::domain::choice::Choice;
use crate::store;

/// Which records a `list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter<S> {
    /// Every record still open (each feature says which states are).
    Open,
    All,
    Only(S),
}

impl<S: Choice + FromStr<Err = DomainError>> StateFilter<S> {
    /// The filter parameter `name` (absent: open).
    pub fn from_input(input: &Input<'_>, name: &str) -> Result<Self, DomainError> {
        Ok(match input.text(name) {
            None | Some("open") => StateFilter::Open,
            Some("all") => StateFilter::All,
            Some(state) => StateFilter::Only(state.parse()?),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            StateFilter::Open => "open",
            StateFilter::All => "all",
            StateFilter::Only(state) => state.as_str(),
        }
    }

    /// The states it lists (empty: every state), `open` being those `is_open` takes.
    pub fn states(self, is_open: impl Fn(S) -> bool) -> Vec<S> {
        match self {
            StateFilter::Open => S::ALL.iter().copied().filter(|s| is_open(*s)).collect(),
            StateFilter::All => Vec::new(),
            StateFilter::Only(state) => vec![state],
        }
    }
}

/// `m` followed by `record`'s audit history, oldest first.
pub async fn with_history(ctx: &mut Ctx<'_>, mut m: Message, record: &str) -> Handled<Message> {
    let tz = ctx.app.config.tz;
    m = m.line(Line::new().text("History:"));
    for e in store::audit::for_record(&mut ctx.db, record).await? {
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            format!(" — {}", e.detail)
        };
        // who, as people are shown everywhere else (a history is a private
        // reply: a mention there notifies no one)
        let line = Line::new().text(format!("  {}  ", local(e.at, tz)));
        let line = match e.actor.parse::<crate::domain::UserRef>() {
            Ok(user) => line.user(&user),
            Err(_) => line.text(&e.actor),
        };
        m = m.line(line.text(format!("  {}{detail}", e.action)));
    }
    Ok(m)
}
