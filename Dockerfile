# The stocklock service as a container image, for docker-compose.yml.
# Machines without Docker use scripts/services and `cargo run` instead.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin stocklock

FROM debian:bookworm-slim
COPY --from=build /src/target/release/stocklock /usr/local/bin/stocklock
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
CMD ["stocklock"]
