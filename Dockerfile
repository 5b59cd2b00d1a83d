# Dockerfile - the operator image: azdo-operator built on Debian 12, run as a non-root user.
#
#   docker build -t registry.example.com/azdo-runner-operator:0.1.0 .
#   docker run --rm registry.example.com/azdo-runner-operator:0.1.0 version
#
# The runtime stage holds only the binary, the libraries it links (see RUNTIME_PACKAGES; checked
# against the binary's NEEDED entries by tools/agent-image/test/run), CA certificates for
# Azure DevOps' TLS, and schema/ + migrations/ for reference (the migrations are also compiled
# into the binary, which applies them at start). No container engine runs where this project is
# developed, so this file is checked statically there, never built.

# ---- build ---------------------------------------------------------------------------------
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      autoconf automake pkg-config make gcc libc6-dev \
      libsqlite3-dev libcurl4-openssl-dev libjansson-dev libssl-dev libh2o-evloop-dev \
      libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# RUN_TESTS=1 also runs the C unit suites (cmocka) in the build.
ARG RUN_TESTS=0
RUN autoreconf -fi \
 && mkdir -p /build && cd /build \
 && /src/configure --prefix=/usr CFLAGS="-O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2" \
 && make -j"$(nproc)" \
 && if [ "$RUN_TESTS" = 1 ]; then make -j"$(nproc)" check; fi \
 && strip --strip-debug src/azdo-operator

# ---- runtime -------------------------------------------------------------------------------
FROM debian:12-slim
ARG RUNTIME_PACKAGES="libsqlite3-0 libcurl4 libjansson4 libssl3 libh2o-evloop0.13 ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $RUNTIME_PACKAGES \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/azdo-operator \
 && chown 65532:65532 /var/lib/azdo-operator
COPY --from=build /build/src/azdo-operator /usr/bin/azdo-operator
COPY --from=build /src/schema/ /usr/share/azdo-runner-operator/schema/
COPY --from=build /src/migrations/ /usr/share/azdo-runner-operator/migrations/
# 65532: a numeric user, so Kubernetes' runAsNonRoot can verify it (the chart runs it as such).
USER 65532:65532
WORKDIR /var/lib/azdo-operator
VOLUME ["/var/lib/azdo-operator"]
EXPOSE 9443 8080
ENTRYPOINT ["/usr/bin/azdo-operator"]
CMD ["run"]
