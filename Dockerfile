# stocklock and the load tester as one image (docker-compose.yml runs it as
# the two instances and as the workshop), for machines with nothing but
# Docker or Podman: docs/containers.md. The build stage fetches the crates
# from crates.io; nothing of the host's toolchain is needed.
FROM rust:1.95-bookworm AS build
# etcd-client generates its gRPC code at build time (scripts/lib.sh's
# BUILD_PACKAGES, natively).
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p stocklock -p loadtest --bins

FROM debian:bookworm-slim
# curl and jq for docker/services, the kill lessons' hook (it asks the
# engine to kill and start the Redis and etcd containers).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl jq \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/stocklock /src/target/release/loadtest /usr/local/bin/
# The workshop runs in a container as it runs natively: the same script, the
# same lessons (STOCKLOCK_IN_CONTAINER tells it where it is).
COPY scripts/lib.sh /opt/stocklock/scripts/lib.sh
COPY loadtest/workshop /opt/stocklock/loadtest/workshop
COPY docker/services /opt/stocklock/docker/services
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
CMD ["stocklock"]
