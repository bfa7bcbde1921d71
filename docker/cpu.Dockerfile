# syntax=docker/dockerfile:1.7
# ctrlab server, CPU build. From the repository root:
#   docker build -f docker/cpu.Dockerfile -t ctrlab:cpu .
# or, for a shared box, docker compose -f docker/compose.yaml up -d (see README, "Deploy on a shared box").
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
# Dependencies first, in a layer of their own: rebuilt only when a pom changes, not on every source change.
COPY pom.xml ./
COPY proto/pom.xml proto/
COPY server/pom.xml server/
COPY client-java/pom.xml client-java/
RUN --mount=type=cache,target=/root/.m2 mvn -B -q dependency:go-offline -DexcludeGroupIds=org.ctrlab
COPY proto proto
COPY configs configs
COPY server server
COPY client-java client-java
RUN --mount=type=cache,target=/root/.m2 mvn -B -q -DskipTests install

FROM eclipse-temurin:17-jre
# oneDNN CPU kernels (TensorFlow reads this once at start; off by default on CPUs without AVX-512 VNNI/BF16 or AMX).
ENV TF_ENABLE_ONEDNN_OPTS=1
RUN groupadd --system --gid 10001 ctrlab && useradd --system --uid 10001 --gid ctrlab --home-dir /runs ctrlab \
    && mkdir -p /runs /data && chown ctrlab:ctrlab /runs
COPY --from=build /src/server/target/ctrlab-server.jar /opt/ctrlab/ctrlab-server.jar
COPY --from=build /src/client-java/target/ctrlab-cli.jar /opt/ctrlab/ctrlab-cli.jar
COPY docker/bin/ /usr/local/bin/
USER ctrlab
VOLUME ["/runs"]
EXPOSE 50051 8080 9464
ENTRYPOINT ["ctrlab-server", "--host", "0.0.0.0", "--run-dir", "/runs", "--data-dir", "/data"]
