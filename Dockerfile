# syntax=docker/dockerfile:1
# monostat's container image (SPEC §6). Build: docker build -t monostat .
#
# The build steps live in docker/build-steps.sh, which scripts/build-image-artifacts
# (run by CI, which has no Docker engine) also runs, so the image and CI build the same
# artefacts with the same commands and flags. Keep the paths below in step with that
# script's staging layout.

# --- 1. the web frontend (web/dist), embedded in the binary by the next stage ----------
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY docker/build-steps.sh docker/build-steps.sh
COPY web/ web/
RUN ./docker/build-steps.sh web /out/web

# --- 2. the release binary ----------------------------------------------------------------
FROM rust:1.95-bookworm AS server
WORKDIR /src
COPY docker/build-steps.sh docker/build-steps.sh
COPY Cargo.toml Cargo.lock ./
COPY api/ api/
COPY migration/ migration/
# api/build.rs embeds web/dist; copied after the sources, it is newer than they are, so
# build.rs finds it current and needs no Node.js in this stage.
COPY web/ web/
COPY --from=web /out/web web/dist
# The caches keep a rebuild from downloading and compiling every crate again; the
# binary is copied out of the cached target directory by the build step itself.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    ./docker/build-steps.sh server /out/bin

# --- 3. the runtime image ---------------------------------------------------------------
FROM debian:bookworm-slim

# Only CA certificates (SMTP with TLS, Slack's API): the binary links rustls and SQLite
# statically, carries the web frontend, and needs no other package or file. Debian security updates change the versions,
# so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 15372 monostat \
    && useradd --uid 15372 --gid 15372 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin monostat \
    && mkdir -p /data \
    && chown monostat:monostat /data \
    && chmod 0700 /data

COPY --from=server /out/bin/monostat /usr/local/bin/monostat
COPY docker/entrypoint.sh /usr/local/bin/docker-entrypoint.sh

# Port 80 as a non-root user: Docker lets containers bind low ports
# (net.ipv4.ip_unprivileged_port_start=0); elsewhere set MONOSTAT_LISTEN=0.0.0.0:8080.
ENV MONOSTAT_DATA_DIR=/data \
    MONOSTAT_LISTEN=0.0.0.0:80

USER 15372:15372
WORKDIR /data
VOLUME ["/data"]
EXPOSE 80

# The binary asks its own /healthz (the image has no curl). A `worker` container has
# no web server: disable the check there (see docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["monostat", "healthcheck", "--timeout", "5"]

ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["all"]
