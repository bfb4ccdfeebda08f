//! Incidents by e-mail: a mail to the address partners are given reaches
//! [`receive`] (through `POST /webhooks/mail`). A mail from one of a
//! partner's `emails` opens an incident for that partner (severity from a
//! `[P1]`/`[P2]`/`[P3]` tag in the subject, default P3; the subject is the
//! summary, the text the first note) and the partner is mailed its INC-n and
//! the SLA; a mail that names one of the partner's incidents — an
//! `In-Reply-To`/`References` id of one of its mails, or `INC-n` in the
//! subject — is added to it as a note and shown to support. A mail from
//! anyone else is held (never dropped) and shown to support, who accept it
//! with `/incident accept-mail` (`/incident held` lists them). Each
//! `Message-ID` is handled once: a relay's retry gets the first outcome.

use super::{Intake, Open, Partners, SupportRules, head, views};
use crate::app::context::Handled;
use crate::app::context::run_as;
use crate::app::{App, Ctx, Line, Message};
use crate::domain::incident::{Event, Severity, api_user};
use crate::domain::{ChannelRef, DomainError, Platform, RecordId, RecordKind, UserRef};
use crate::store::{self, inbound_mail::InboundMail};

/// The longest text kept from one mail (the rest is cut, marked).
pub const MAX_TEXT: usize = 4000;

/// One received mail, as the webhook read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The sender's address.
    pub from: String,
    pub subject: String,
    pub text: String,
    /// Its `Message-ID` (with or without `<>`).
    pub message_id: String,
    /// The ids of its `In-Reply-To` and `References`.
    pub replies_to: Vec<String>,
    /// Its attachments, as the relay described them (their content is not kept).
    pub attachments: Vec<Attachment>,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: Option<String>,
    /// Bytes, when the relay said.
    pub size: Option<u64>,
}

impl Mail {
    /// Its text, and a line naming its attachments: shipmate keeps no files,
    /// so the team learns there were some and can ask for them.
    pub fn text_shown(&self) -> String {
        if self.attachments.is_empty() {
            return self.text.clone();
        }
        let files: Vec<String> = self
            .attachments
            .iter()
            .map(|a| {
                let about: Vec<String> = a
                    .content_type
                    .iter()
                    .cloned()
                    .chain(a.size.map(size_words))
                    .collect();
                if about.is_empty() {
                    a.name.clone()
                } else {
                    format!("{} ({})", a.name, about.join(", "))
                }
            })
            .collect();
        let head = crate::app::message::count(files.len() as i64, "attachment", "attachments");
        format!(
            "{}\n\n📎 {head} not kept: {} (ask the sender for a link)",
            self.text.trim_end(),
            files.join("; ")
        )
    }
}

/// `812 bytes`, `12 KB`, `3.4 MB`.
fn size_words(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{} KB", bytes.div_ceil(1_000)),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
    }
}

/// What became of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Opened(RecordId),
    Added(RecordId),
    /// Held for support, as mail number n.
    Held(i64),
}

/// Handles a mail once; `true` with it when it came before (a retry).
pub async fn receive(app: &App, mail: Mail) -> Handled<(Outcome, bool)> {
    let from = mail.from.trim().to_ascii_lowercase();
    let partner = app
        .config
        .section::<Partners>()
        .of_email(&from)
        .map(str::to_string);
    let (user, channel) = match &partner {
        Some(p) => (api_user(p), ChannelRef::new(Platform::Email, p.as_str())),
        None => (
            UserRef::console("mail"),
            ChannelRef::new(Platform::Console, "#mail"),
        ),
    };
    run_as(app, user, channel, "mail", async |ctx: &mut Ctx<'_>| {
        if let Some(seen) =
            store::inbound_mail::by_message_id(&mut ctx.db, &mail.message_id).await?
        {
            return Ok((outcome_of(&seen), true));
        }
        let outcome = match &partner {
            Some(p) => from_partner(ctx, p, &from, &mail).await?,
            None => hold(ctx, &from, &mail).await?,
        };
        Ok((outcome, false))
    })
    .await
}

fn outcome_of(row: &InboundMail) -> Outcome {
    match (row.state.as_str(), row.incident) {
        ("opened", Some(n)) => Outcome::Opened(RecordId::new(RecordKind::Incident, n)),
        ("added", Some(n)) => Outcome::Added(RecordId::new(RecordKind::Incident, n)),
        _ => Outcome::Held(row.id),
    }
}

/// The text kept from a mail: trimmed, at most [`MAX_TEXT`] bytes.
fn kept(text: &str) -> String {
    let text = text.trim();
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} […]", &text[..end])
}

async fn record(
    ctx: &mut Ctx<'_>,
    from: &str,
    mail: &Mail,
    state: &str,
    incident: Option<i64>,
) -> Handled<i64> {
    let row = InboundMail {
        id: 0,
        message_id: mail.message_id.clone(),
        sender: from.to_string(),
        subject: mail.subject.clone(),
        body: kept(&mail.text_shown()),
        state: state.to_string(),
        incident,
    };
    Ok(store::inbound_mail::insert(&mut ctx.db, &row, ctx.now).await?)
}

/// The incident a mail names: an id of one of its mails in `In-Reply-To` or
/// `References` (`<inc-7-…@…>`), else `INC-7` in the subject.
pub fn incident_named(mail: &Mail) -> Option<i64> {
    let from_ids = mail.replies_to.iter().find_map(|id| {
        let id = id.trim().trim_start_matches('<');
        let rest = id.strip_prefix("inc-")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        rest[digits.len()..]
            .starts_with('-')
            .then_some(digits)?
            .parse()
            .ok()
    });
    from_ids.or_else(|| {
        let upper = mail.subject.to_ascii_uppercase();
        let at = upper.find("INC-")?;
        let digits: String = upper[at + 4..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// The severity a subject's tag asks for (`[P1]`), and the subject without it.
fn severity_of(subject: &str) -> (Severity, String) {
    for severity in [Severity::P1, Severity::P2, Severity::P3] {
        let tag = format!("[{severity}]");
        if let Some(at) = subject.to_ascii_uppercase().find(&tag) {
            let rest = format!("{}{}", &subject[..at], &subject[at + tag.len()..]);
            return (severity, rest.trim().to_string());
        }
    }
    (Severity::P3, subject.trim().to_string())
}

async fn from_partner(
    ctx: &mut Ctx<'_>,
    partner: &str,
    from: &str,
    mail: &Mail,
) -> Handled<Outcome> {
    if let Some(n) = incident_named(mail)
        && let Some(stored) = store::incident::get(&mut ctx.db, n).await?
        && stored.incident.partner.as_deref() == Some(partner)
    {
        let id = RecordId::new(RecordKind::Incident, n);
        let text = kept(&mail.text_shown());
        let incident = note_mail(ctx, stored, &text, from).await?;
        ctx.audit(
            &id.to_string(),
            "mail",
            &format!("from={from} subject={}", mail.subject),
        );
        record(ctx, from, mail, "added", Some(n)).await?;
        let message = Message::new()
            .line(head(Line::new().text("📧 "), id, &incident).text(format!(": mail from {from}")))
            .line(Line::new().text(text));
        let channels = ctx.app.config.section::<SupportRules>().channels.clone();
        ctx.post_all(&channels, &message);
        return Ok(Outcome::Added(id));
    }
    let (severity, summary) = severity_of(&mail.subject);
    let summary = if summary.is_empty() {
        "(no subject)".to_string()
    } else {
        summary
    };
    let open = Open {
        severity,
        summary,
        service: None,
        version: None,
        partner: Some(partner.to_string()),
    };
    let opened = super::open(
        ctx,
        open,
        Intake::Mail {
            from: from.to_string(),
        },
    )
    .await?;
    let n = opened.id.n;
    add_text(ctx, opened.id, &mail.text_shown(), from).await?;
    record(ctx, from, mail, "opened", Some(n)).await?;
    Ok(Outcome::Opened(opened.id))
}

/// Adds a mail's text to a just-opened incident as its first note.
async fn add_text(ctx: &mut Ctx<'_>, id: RecordId, text: &str, from: &str) -> Handled<()> {
    let text = kept(text);
    if text.is_empty() {
        return Ok(());
    }
    if let Some(stored) = store::incident::get(&mut ctx.db, id.n).await? {
        note_mail(ctx, stored, &text, from).await?;
    }
    Ok(())
}

/// Records a mail's text on the incident as a note by the mail's sender.
async fn note_mail(
    ctx: &mut Ctx<'_>,
    mut stored: store::incident::Stored,
    text: &str,
    from: &str,
) -> Handled<crate::domain::incident::Incident> {
    let id = RecordId::new(RecordKind::Incident, stored.n);
    let calendar = ctx.app.config.calendar.clone();
    let user = ctx.actor.user.clone();
    stored
        .incident
        .apply(
            Event::Note(format!("mail from {from}: {text}")),
            &user,
            &calendar,
            ctx.now,
        )
        .map_err(|e| DomainError::conflict(format!("{id}: {e}")))?;
    store::incident::update(&mut ctx.db, stored.n, &stored.incident, ctx.now).await?;
    Ok(stored.incident)
}

/// Holds a mail from an unknown sender and shows it to support.
async fn hold(ctx: &mut Ctx<'_>, from: &str, mail: &Mail) -> Handled<Outcome> {
    let n = record(ctx, from, mail, "held", None).await?;
    ctx.audit(
        &format!("mail-{n}"),
        "held",
        &format!("from={from} subject={}", mail.subject),
    );
    let message = Message::new()
        .line(
            Line::new()
                .text(format!(
                    "📧 Mail {n} from {from} is held: it is no partner's address. "
                ))
                .bold(format!("“{}”", mail.subject)),
        )
        .line(Line::new().text(kept(&mail.text_shown())))
        .line(
            Line::new()
                .text("To raise it as an incident: ")
                .code(accept_hint(n, &mail.subject)),
        );
    let channels = ctx.app.config.section::<SupportRules>().channels.clone();
    ctx.post_all(&channels, &message);
    Ok(Outcome::Held(n))
}

/// The command that raises held mail `n` as an incident, at the severity
/// its subject asks for (what `accept-mail` takes without `severity:`,
/// written out so that whoever pastes it sees it and can change it).
fn accept_hint(n: i64, subject: &str) -> String {
    let (severity, _) = severity_of(subject);
    format!("/incident accept-mail {n} partner:<name> severity:{severity}")
}

/// The most held mails `/incident held` shows.
const HELD_SHOWN: i64 = 50;

/// `/incident held`: the mails still held, each with its number and the
/// command that raises it (support only: they are strangers' mails).
pub async fn held(ctx: &mut Ctx<'_>) -> Handled<crate::app::Reply> {
    let role = ctx.app.config.section::<SupportRules>().role.clone();
    ctx.actor.require(&role, "see held mail")?;
    let rows = store::inbound_mail::held(&mut ctx.db, HELD_SHOWN + 1).await?;
    if rows.is_empty() {
        return Ok(crate::app::Reply::private(Message::text(
            "No mail is held: mail from unknown senders is shown in the support channels when it comes.",
        )));
    }
    let mut message = Message::new().line(Line::new().text(format!(
        "Held mails{}:",
        if rows.len() as i64 > HELD_SHOWN {
            format!(" (the oldest {HELD_SHOWN})")
        } else {
            String::new()
        }
    )));
    for row in rows.iter().take(HELD_SHOWN as usize) {
        message = message.line(
            Line::new()
                .text(format!("• Mail {} from {}: ", row.id, row.sender))
                .bold(format!("“{}”", row.subject))
                .text(" — ")
                .code(accept_hint(row.id, &row.subject)),
        );
    }
    Ok(crate::app::Reply::private(message))
}

/// `/incident accept-mail`: the support role raises a held mail as an
/// incident (for `partner`, when given); the sender is mailed its INC-n.
pub async fn accept(
    ctx: &mut Ctx<'_>,
    n: i64,
    partner: Option<String>,
    severity: Option<Severity>,
) -> Handled<crate::app::Reply> {
    let role = ctx.app.config.section::<SupportRules>().role.clone();
    ctx.actor.require(&role, "accept held mail")?;
    let Some(row) = store::inbound_mail::get(&mut ctx.db, n).await? else {
        return Err(DomainError::not_found(format!(
            "mail {n} does not exist: /incident held lists the held mails with their numbers"
        ))
        .into());
    };
    if row.state != "held" {
        return Err(DomainError::conflict(format!(
            "mail {n} is not held: it was {} ({})",
            row.state,
            row.incident
                .map(|i| RecordId::new(RecordKind::Incident, i).to_string())
                .unwrap_or_default()
        ))
        .into());
    }
    let (tagged, summary) = severity_of(&row.subject);
    let open = Open {
        severity: severity.unwrap_or(tagged),
        summary: if summary.is_empty() {
            "(no subject)".into()
        } else {
            summary
        },
        service: None,
        version: None,
        partner,
    };
    let opened = super::open(ctx, open, Intake::Chat).await?;
    add_text(ctx, opened.id, &row.body, &row.sender).await?;
    store::inbound_mail::accepted(&mut ctx.db, n, opened.id.n).await?;
    ctx.audit(
        &opened.id.to_string(),
        "accepted-mail",
        &format!("mail={n} from={}", row.sender),
    );
    if ctx.app.config.mail.is_some()
        && let Ok(sender) = format!("email:{}", row.sender).parse::<ChannelRef>()
    {
        let notice = views::opened_for_partner(ctx, opened.id, &opened.incident);
        ctx.post(&sender, &notice, None);
    }
    Ok(crate::app::Reply::in_channel(opened.card.line(
        Line::new().text(format!("(from held mail {n}, sent by {})", row.sender)),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(subject: &str, replies_to: &[&str]) -> Mail {
        Mail {
            from: "ops@acme.example".into(),
            subject: subject.into(),
            text: String::new(),
            message_id: "<m1@acme.example>".into(),
            replies_to: replies_to.iter().map(|s| s.to_string()).collect(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn attachments_are_named_with_their_type_and_size() {
        let mut m = mail("logs", &[]);
        m.text = "See attached.\n".into();
        assert_eq!(m.text_shown(), "See attached.\n");
        m.attachments = vec![
            Attachment {
                name: "app.log".into(),
                content_type: Some("text/plain".into()),
                size: Some(812),
            },
            Attachment {
                name: "screen.png".into(),
                content_type: None,
                size: Some(2_400_000),
            },
        ];
        assert_eq!(
            m.text_shown(),
            "See attached.\n\n📎 2 attachments not kept: app.log (text/plain, 812 bytes); screen.png (2.4 MB) (ask the sender for a link)"
        );
    }

    #[test]
    fn a_mail_names_its_incident_by_thread_or_subject() {
        assert_eq!(
            incident_named(&mail(
                "Re: hello",
                &["<inc-7-1793610000000.98ac7141@ops.example>"]
            )),
            Some(7)
        );
        assert_eq!(
            incident_named(&mail("Re: INC-12: login fails", &["<other@x>"])),
            Some(12)
        );
        assert_eq!(incident_named(&mail("inc-3 again", &[])), Some(3));
        assert_eq!(incident_named(&mail("new trouble", &["<inc-x@y>"])), None);
    }

    #[test]
    fn the_accept_hint_asks_for_the_severity_of_the_subjects_tag() {
        assert_eq!(
            accept_hint(4, "[P1] portal down"),
            "/incident accept-mail 4 partner:<name> severity:P1"
        );
        assert_eq!(
            accept_hint(5, "a question"),
            "/incident accept-mail 5 partner:<name> severity:P3"
        );
    }

    #[test]
    fn a_subject_tag_sets_the_severity() {
        assert_eq!(
            severity_of("[P1] portal down"),
            (Severity::P1, "portal down".into())
        );
        assert_eq!(
            severity_of("portal slow [p2]"),
            (Severity::P2, "portal slow".into())
        );
        assert_eq!(
            severity_of("a question"),
            (Severity::P3, "a question".into())
        );
    }
}
