# Multi-stage build: compile with the full toolchain, run on a slim image as a
# non-root user. The database lives on the /data volume.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
# build settings (the bundled SQLite's compile flags)
COPY .cargo ./.cargo
COPY src ./src
# declared [[bench]] targets must exist for cargo to read the manifest
COPY benches ./benches
COPY migrations ./migrations
COPY config ./config
RUN cargo build --release --locked --bin shipmate

FROM debian:bookworm-slim
# ca-certificates: the Slack and Discord clients verify TLS against the OS store.
# curl: the health check. tini: PID 1, passes `docker stop`'s SIGTERM on to
# shipmate (which then stops gracefully within shutdown.grace) and reaps.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home shipmate \
    && mkdir -p /data && chown shipmate:shipmate /data
WORKDIR /app
COPY --from=build /src/target/release/shipmate /usr/local/bin/shipmate
COPY --chown=shipmate:shipmate config ./config
USER shipmate
# Keep in step with config/default.toml: the database on the volume, HTTP on all
# interfaces inside the container, no console (no terminal in a container).
ENV SHIPMATE__DATABASE__URL=sqlite:///data/shipmate.db \
    SHIPMATE__HTTP__BIND=0.0.0.0:8080 \
    SHIPMATE__CONSOLE__ENABLED=false
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "shipmate"]
CMD ["serve"]
