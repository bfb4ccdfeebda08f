//! Delivery to `email:` channels over SMTP (lettre; STARTTLS or implicit
//! TLS as `mail.url` says, rustls with ring). One outbox row is one mail to
//! the channel's recipients: an address, a `[mail.lists.<name>]` list or a
//! partner's `emails`. A partner's people (one organisation) read each
//! other in `To:`; a list's members (often of several organisations) never
//! do: its mail is addressed `To:` the sender and reaches the members as
//! envelope recipients only, as a `Bcc:` would.
//!
//! Every mail has a `Message-ID` derived from its row, so a resend after a
//! crash (SMTP cannot be asked whether a mail arrived) is the same message
//! to the receiving side. A message about a matter ([`Thread`]) keeps one
//! conversation per matter and channel: the message that opens it has the
//! matter's `Message-ID`, every later one answers it (`In-Reply-To`,
//! `References`); an edit of a living message answers the message it edits.
//! A 4xx reply or a network failure is retried, a 5xx is permanent (parked).
//! With `mail.dkim_selector` set, every mail is signed ([`dkim`]).
//!
//! [`Thread`]: crate::app::message::Thread

mod dkim;
mod render;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono_tz::Tz;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sha2::{Digest, Sha256};

pub use dkim::dkim_key;
pub use render::{Rendered, escape, header_safe, invitation, render};

use super::{Delivered, DeliveryError, DeliveryFuture, Outbound, Transport};
use crate::domain::ChannelRef;
use crate::settings::{Config, Directory, MailConfig, bare_address};

/// How long one SMTP conversation may take (less than the outbox lease).
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Sends `email:` messages through the configured SMTP relay.
pub struct MailTransport {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    mail: MailConfig,
    /// Partner name → its addresses (`email:<partner>`) and the zone of
    /// times in its mails.
    partners: BTreeMap<String, (Vec<String>, Tz)>,
    directory: Directory,
    /// Signs every mail, when `mail.dkim_selector` is set.
    dkim: Option<lettre::message::dkim::DkimConfig>,
}

impl MailTransport {
    /// The transport of `[mail]`, or `None` when e-mail is off.
    pub fn new(config: &Config) -> anyhow::Result<Option<Self>> {
        let Some(mail) = config.mail.clone() else {
            return Ok(None);
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(&mail.url)?.timeout(Some(SMTP_TIMEOUT));
        if !mail.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                mail.username.clone(),
                mail.password.expose().to_string(),
            ));
        }
        let partners = config.section::<crate::app::incident::Partners>();
        let partners = partners
            .names()
            .filter_map(|n| {
                partners
                    .get(n)
                    .map(|p| (n.to_string(), (p.emails.clone(), p.tz.unwrap_or(mail.tz))))
            })
            .filter(|(_, (emails, _))| !emails.is_empty())
            .collect();
        let dkim = match &mail.dkim {
            Some((selector, key)) => Some(
                dkim::signer(&mail.domain, selector, key)
                    .map_err(|why| anyhow::anyhow!("mail.dkim_private_key {why}"))?,
            ),
            None => None,
        };
        Ok(Some(Self {
            dkim,
            smtp: builder.build(),
            from: mail.from.parse()?,
            mail,
            partners,
            directory: config.directory.clone(),
        }))
    }

    /// Who an `email:` channel reaches, and the zone of its times.
    fn recipients(&self, channel: &ChannelRef) -> Result<Recipients, DeliveryError> {
        let shown = |to: Vec<String>, tz| Recipients {
            to,
            tz,
            undisclosed: false,
        };
        if channel.id.contains('@') {
            return Ok(shown(vec![channel.id.clone()], self.mail.tz));
        }
        if let Some(list) = self.mail.lists.get(&channel.id) {
            return Ok(Recipients {
                to: list.to.clone(),
                tz: list.tz,
                undisclosed: true,
            });
        }
        match self.partners.get(&channel.id) {
            Some((emails, tz)) => Ok(shown(emails.clone(), *tz)),
            None => Err(DeliveryError::Permanent(format!(
                "{channel} names no [mail.lists.{0}] and no partner [partners.{0}] with emails",
                channel.id
            ))),
        }
    }

    /// The `Message-ID` of this row, and the one it answers.
    fn ids(&self, item: &Outbound) -> (String, Option<String>) {
        let domain = &self.mail.domain;
        let digest = Sha256::digest(item.channel.to_string().as_bytes());
        let channel = hex::encode(&digest[..4]);
        let own = format!(
            "<{}.{channel}.{}@{domain}>",
            item.outbox_id,
            item.created_at.timestamp_millis()
        );
        let parent = item.edit_of.clone().or_else(|| item.reply_to.clone());
        match &item.message.thread {
            Some(t) => {
                let root = format!("<{}.{channel}@{domain}>", id_safe(&t.key));
                if t.opens && parent.is_none() {
                    (root, None)
                } else {
                    (own, Some(parent.unwrap_or(root)))
                }
            }
            None => (own, parent),
        }
    }

    fn compose(&self, item: &Outbound) -> Result<(lettre::Message, String), DeliveryError> {
        let Recipients {
            to,
            tz,
            undisclosed,
        } = self.recipients(&item.channel)?;
        let mut footer = item.message.links.clone();
        if let Some(url) = &item.message.unsubscribe {
            footer.push(("Unsubscribe".to_string(), url.clone()));
        }
        footer.push(("shipmate".to_string(), self.mail.public_url.clone()));
        let rendered = render(&item.message, tz, &self.directory, &footer);
        let (id, parent) = self.ids(item);
        let permanent = |e: &dyn std::fmt::Display| {
            DeliveryError::Permanent(format!("cannot build the mail to {}: {e}", item.channel))
        };
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(rendered.subject.clone())
            .message_id(Some(id.clone()))
            .date(SystemTime::from(item.created_at))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ));
        if undisclosed {
            // `To:` the sender; the members are the envelope's recipients only
            let members = to
                .iter()
                .map(|a| a.parse::<lettre::Address>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| permanent(&e))?;
            let envelope = lettre::address::Envelope::new(Some(self.from.email.clone()), members)
                .map_err(|e| permanent(&e))?;
            builder = builder.to(self.from.clone()).envelope(envelope);
        } else {
            for address in &to {
                builder = builder.to(address.parse::<Mailbox>().map_err(|e| permanent(&e))?);
            }
        }
        if let Some(url) = &item.message.unsubscribe {
            // RFC 8058: a POST of `List-Unsubscribe=One-Click` to the URL unsubscribes
            for (name, value) in [
                ("List-Unsubscribe", format!("<{url}>")),
                (
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".to_string(),
                ),
            ] {
                builder = builder.raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str(name),
                    value,
                ));
            }
        }
        if let Some(parent) = parent {
            builder = builder.in_reply_to(parent.clone()).references(parent);
        }
        let mut body = MultiPart::alternative()
            .singlepart(SinglePart::plain(rendered.text))
            .singlepart(SinglePart::html(rendered.html));
        if let Some(invite) = &item.message.invite {
            let method = if invite.cancelled {
                "CANCEL"
            } else {
                "REQUEST"
            };
            let kind =
                ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                    .map_err(|e| permanent(&e))?;
            // a list's members are not named to each other as attendees either
            let attendees: &[String] = if undisclosed { &[] } else { &to };
            let ics = invitation(
                invite,
                bare_address(&self.mail.from),
                attendees,
                item.created_at,
            );
            body = body.singlepart(SinglePart::builder().header(kind).body(ics));
        }
        let mut mail = builder.multipart(body).map_err(|e| permanent(&e))?;
        if let Some(dkim) = &self.dkim {
            mail.sign(dkim);
        }
        Ok((mail, id))
    }
}

/// Who one mail reaches.
struct Recipients {
    to: Vec<String>,
    /// The zone of the times in the mail.
    tz: Tz,
    /// Whether the recipients stay out of the headers (a list's members).
    undisclosed: bool,
}

/// A record key as the left side of a `Message-ID` (letters, digits, `.-_`).
fn id_safe(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

impl Transport for MailTransport {
    fn deliver<'a>(&'a self, item: &'a Outbound) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let (mail, id) = self.compose(item)?;
            match self.smtp.send(mail).await {
                Ok(_) => Ok(Delivered {
                    platform_message_id: Some(id),
                    next_part: None,
                }),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!(
                    "the mail server refused the mail to {}: {e}",
                    item.channel
                ))),
                Err(e) => Err(DeliveryError::Retry {
                    after: None,
                    reason: format!("mail to {} not sent yet: {e}", item.channel),
                }),
            }
        })
    }
}
