# PostgreSQL 15, Redis 7.0 and etcd 3.4.23 as images, one target each
# (docker-compose.yml builds them): Debian 12's own packages, the very
# versions scripts/services starts natively, so a lesson behaves the same on
# both paths and on amd64 and arm64 alike. The official images would bring
# other versions (etcd 3.5 fixed the waited-Lock-after-lease-expiry bug the
# ladder's etcd lesson shows). Each listens on its usual port inside the
# container network, with the limits scripts/lib.sh gives the native servers.

FROM debian:bookworm-slim AS debian-packages
# apt's post-install scripts try to start the servers; no init system runs
# here, so they are refused, which is fine: each target starts its own.
ENV DEBIAN_FRONTEND=noninteractive

FROM debian-packages AS postgres
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
# The cluster is made while the image is built, so a container starts in a
# moment: superuser `stocklock` and its database, trusted from the container
# network (published nowhere: only the instances reach it).
USER postgres
ENV PGDATA=/var/lib/postgresql/stocklock PATH=/usr/lib/postgresql/15/bin:$PATH
RUN initdb --username=stocklock --auth=trust --encoding=UTF8 --no-locale --no-instructions >/dev/null \
    && echo "host all all all trust" >>"$PGDATA/pg_hba.conf" \
    && pg_ctl start --wait --silent -o "-c listen_addresses=''" \
    && createdb -U stocklock stocklock \
    && pg_ctl stop --wait --silent
EXPOSE 5432
# Two instances with a pool each: the connection limit above the default 100.
CMD ["postgres", "-c", "listen_addresses=*", "-c", "max_connections=400"]

FROM debian-packages AS redis
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
# No persistence: locks are ephemeral (a killed Redis comes back empty, as
# natively). A memory limit with noeviction: an evicted lock key would admit
# a second holder.
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no", \
     "--maxmemory", "256mb", "--maxmemory-policy", "noeviction"]

FROM debian-packages AS etcd
RUN apt-get update && apt-get install -y --no-install-recommends etcd-server \
    && rm -rf /var/lib/apt/lists/*
USER etcd
EXPOSE 2379
# A single-member cluster spells out its URLs; the data stays in the
# container across a kill and a start, as natively.
CMD ["etcd", "--name", "stocklock", "--data-dir", "/var/lib/etcd/stocklock", \
     "--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://etcd:2379", \
     "--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380", \
     "--initial-cluster", "stocklock=http://127.0.0.1:2380", "--initial-cluster-state", "new", \
     "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h", \
     "--logger", "zap", "--log-outputs", "stderr"]
