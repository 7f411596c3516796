# syntax=docker/dockerfile:1

# Build stage: cgo is on, because the SQLite driver (mattn/go-sqlite3) is C.
FROM golang:1.26-bookworm AS builder
WORKDIR /src
ENV CGO_ENABLED=1
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/meet ./cmd/meet

# Runtime stage: the same Debian release as the builder, so the glibc the
# binary links against is there.
FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& groupadd --system --gid 10001 meet \
	&& useradd --system --uid 10001 --gid meet --home-dir /data --shell /usr/sbin/nologin meet \
	&& mkdir -p /data \
	&& chown meet:meet /data
COPY --from=builder /out/meet /usr/local/bin/meet
USER meet:meet
WORKDIR /data
# The SQLite database and the identity secret live here.
VOLUME ["/data"]
ENV MEET_ADDR=:8080 \
	MEET_UDP_PORT=8443
# HTTP and WebSocket; the SFU's WebRTC media on one UDP port.
EXPOSE 8080/tcp 8443/udp 8443/tcp 3478/udp 3478/tcp
ENTRYPOINT ["/usr/local/bin/meet", "-db", "/data/meet.db"]
