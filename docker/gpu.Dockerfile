# syntax=docker/dockerfile:1.7
# ctrlab server, GPU build: TensorFlow Java's linux-x86_64-gpu native library, which bundles no CUDA: this image
# supplies what TensorFlow 2.18 was built with or newer (CUDA 12.5+, cuDNN 9.3+; the build fails otherwise).
#   docker build -f docker/gpu.Dockerfile -t ctrlab:gpu .
# or docker compose -f docker/compose.yaml -f docker/compose.gpu.yaml up -d (README, "Deploy on a shared box").
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-runtime-ubuntu22.04
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml ./
COPY proto/pom.xml proto/
COPY server/pom.xml server/
COPY client-java/pom.xml client-java/
RUN --mount=type=cache,target=/root/.m2 mvn -B -q -Pgpu dependency:go-offline -DexcludeGroupIds=org.ctrlab
COPY proto proto
COPY configs configs
COPY server server
COPY client-java client-java
RUN --mount=type=cache,target=/root/.m2 mvn -B -q -Pgpu -DskipTests install

FROM ${CUDA_IMAGE}
# cuDNN 9 for CUDA 12 from NVIDIA's repository (configured in the CUDA images), checked to be 9.3 or newer.
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless libcudnn9-cuda-12 \
    && v="$(dpkg-query -W -f='${Version}' libcudnn9-cuda-12)" \
    && dpkg --compare-versions "$v" ge 9.3 || { echo "cuDNN $v is older than the 9.3 TensorFlow 2.18 needs"; exit 1; } \
    && rm -rf /var/lib/apt/lists/*
# Each process takes GPU memory as it needs it (the server also sets this on its own sessions and each slot's worker).
ENV TF_FORCE_GPU_ALLOW_GROWTH=true
RUN groupadd --system --gid 10001 ctrlab && useradd --system --uid 10001 --gid ctrlab --home-dir /runs ctrlab \
    && mkdir -p /runs /data && chown ctrlab:ctrlab /runs
COPY --from=build /src/server/target/ctrlab-server.jar /opt/ctrlab/ctrlab-server.jar
COPY --from=build /src/client-java/target/ctrlab-cli.jar /opt/ctrlab/ctrlab-cli.jar
COPY docker/bin/ /usr/local/bin/
USER ctrlab
VOLUME ["/runs"]
EXPOSE 50051 8080 9464
ENTRYPOINT ["ctrlab-server", "--host", "0.0.0.0", "--run-dir", "/runs", "--data-dir", "/data"]
