# A throwaway swarm node for the visualizer's tests: Debian's docker.io, dockerd in the foreground.
# The tests build it as swarmstack-test/visualizer-node:bookworm when no node image exists.
ARG BASE_IMAGE=swarmstack/base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends docker.io iptables ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
ENV DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
VOLUME /var/lib/docker
ENTRYPOINT ["dockerd"]
