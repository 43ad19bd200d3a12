# One image for every Orderflow service: `orderflow serve <service>` picks what runs.
# Multi-stage: build with the Rust toolchain, run on a slim Debian with only the binary.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin orderflow

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 orderflow
COPY --from=build /src/target/release/orderflow /usr/local/bin/orderflow
USER orderflow
ENV ORDERFLOW_LISTEN=0.0.0.0:8080 RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["orderflow"]
CMD ["run"]
