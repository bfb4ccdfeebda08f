//! The Discord gateway (`discord.gateway = true`): a serenity client with
//! the `GUILDS` intent only (interactions need no message content), whose
//! `interaction_create` runs the same core as `POST /discord/interactions`
//! ([`Inbound`]) and posts its interaction response to
//! `/interactions/{id}/{token}/callback` — the call serenity's
//! `create_response` makes, with the body the HTTP endpoint would return
//! (unless the core answered through that endpoint itself, for a reply
//! with follow-ups: then nothing more is sent).
//!
//! REST goes through `discord.api_base_url`: when it is not Discord's own,
//! serenity's proxy setting points there, which only works with serenity's
//! rate limiter disabled (the proxy is then expected to rate-limit).

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ApplicationId, Context, EventHandler, GatewayIntents, Interaction as GatewayInteraction, Ready,
};
use serenity::http::{Http, HttpBuilder};

use super::inbound::{Inbound, Response};
use super::render;
use super::wire::Interaction;
use crate::app::App;
use crate::delivery::ChannelLimiter;
use crate::platform::answer::Malformed;

/// Discord's own REST base; any other `discord.api_base_url` is used as a proxy.
pub const DEFAULT_API_BASE: &str = "https://discord.com/api/v10";

/// The longest wait between two attempts to (re)connect.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A gateway interaction as the HTTP endpoint's [`Interaction`]: serenity
/// serializes the payload back to Discord's JSON, minus its `type`.
pub fn wire(i: &GatewayInteraction) -> Result<Interaction, Malformed> {
    let mut value = serde_json::to_value(i).map_err(|e| Malformed(format!("interaction: {e}")))?;
    let kind: u8 = i.kind().into();
    if let Some(object) = value.as_object_mut() {
        object.insert("type".into(), kind.into());
    }
    serde_json::from_value(value).map_err(|e| Malformed(format!("interaction: {e}")))
}

/// The proxy serenity should send REST calls to, or `None` for Discord itself.
pub fn proxy_for(api_base_url: &str) -> Result<Option<String>, String> {
    let base = api_base_url.trim_end_matches('/');
    if base == DEFAULT_API_BASE {
        return Ok(None);
    }
    base.strip_suffix("/api/v10")
        .map(|p| Some(p.to_string()))
        .ok_or_else(|| {
            format!("discord.api_base_url `{base}` must end with /api/v10 for the gateway client")
        })
}

/// serenity's REST client for the configured token, application and base URL.
pub fn http(app: &App) -> anyhow::Result<Http> {
    let discord = &app.config.settings.discord;
    let mut builder = HttpBuilder::new(discord.bot_token.expose());
    if let Ok(id) = discord.application_id.parse::<u64>()
        && id != 0
    {
        builder = builder.application_id(ApplicationId::new(id));
    }
    if let Some(proxy) = proxy_for(&discord.api_base_url).map_err(anyhow::Error::msg)? {
        builder = builder.proxy(proxy).ratelimiter_disabled(true);
    }
    Ok(builder.build())
}

struct Handler {
    inbound: Inbound,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "Discord gateway connected");
    }

    async fn interaction_create(&self, ctx: Context, interaction: GatewayInteraction) {
        let response = match wire(&interaction) {
            Ok(i) => self.inbound.interaction(&i).await,
            Err(e) => Err(e),
        };
        let response = match response {
            Ok(Response::Body(body)) => body,
            // answered through the callback endpoint already (its follow-ups are on their way)
            Ok(Response::Answered) => return,
            Err(e) => {
                tracing::warn!(error = %e, "a Discord interaction over the gateway could not be read");
                render::note(&e.to_string())
            }
        };
        if let Err(e) = ctx
            .http
            .create_interaction_response(
                interaction.id(),
                interaction.token(),
                &response,
                Vec::new(),
            )
            .await
        {
            tracing::warn!(error = %e, "could not answer a Discord interaction");
        }
    }
}

/// Connects and serves until the task is dropped, reconnecting with backoff
/// when serenity gives up (it already retries shard connections itself).
/// `pace`: Discord's per-channel limiter, shared with the outbox.
pub async fn run(
    app: App,
    client: reqwest::Client,
    pace: Arc<ChannelLimiter>,
) -> anyhow::Result<()> {
    let mut backoff = Duration::from_secs(5);
    loop {
        let handler = Handler {
            inbound: Inbound::new(app.clone(), client.clone(), pace.clone()),
        };
        let mut gateway =
            serenity::client::ClientBuilder::new_with_http(http(&app)?, GatewayIntents::GUILDS)
                .event_handler(handler)
                .await?;
        match gateway.start().await {
            Ok(()) => backoff = Duration::from_secs(5),
            Err(e) => tracing::warn!(error = %e, "Discord gateway stopped"),
        }
        gateway.shard_manager.shutdown_all().await;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_base_url_other_than_discords_becomes_a_proxy() {
        assert_eq!(proxy_for("https://discord.com/api/v10/"), Ok(None));
        assert_eq!(
            proxy_for("http://127.0.0.1:4000/api/v10"),
            Ok(Some("http://127.0.0.1:4000".into()))
        );
        assert!(proxy_for("http://127.0.0.1:4000/v9").is_err());
    }
}
