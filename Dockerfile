# clusterd image: build on Debian bookworm, run on bookworm-slim with only the
# runtime libraries (test/deploy/check_dockerfile.py checks that this list
# covers `ldd` of both binaries; keep them in step).
#
#   docker build -t clusterd:0.1.0 .
#   docker run --rm clusterd:0.1.0 --version
#
# The image holds clusterd and epmd (clusterd registers its node name in the
# EPMD of its own host; in Kubernetes epmd runs as a sidecar from this same
# image, see k8s/coordinator/deployment.yaml). It runs as uid 65532 and
# writes nothing to its filesystem.

FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config erlang-dev erlang-base \
      libuv1-dev libyaml-dev libjansson-dev libmicrohttpd-dev libc-ares-dev libcurl4-openssl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY rebar.config ./
COPY c_src ./c_src
COPY src ./src
RUN make -C c_src \
 && install -D -m 0755 priv/clusterd /out/clusterd \
 && install -D -m 0755 "$(erl -noshell -eval 'io:format("~s",[code:root_dir()]), halt().')"/erts-*/bin/epmd /out/epmd \
 && /out/clusterd --version

FROM debian:bookworm-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only. libc-ares2 and libcurl4 are for the DNS and
# Kubernetes API strategies, libssl3 for TLS distribution; libsystemd0 is
# epmd's (already in the base).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libuv1 libyaml-0-2 libjansson4 libmicrohttpd12 libc-ares2 libcurl4 libssl3 libsystemd0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/clusterd /out/epmd /usr/local/bin/
USER 65532:65532
EXPOSE 9568
ENTRYPOINT ["/usr/local/bin/clusterd"]
CMD ["run", "-c", "/etc/clusterd/clusterd.yaml"]
