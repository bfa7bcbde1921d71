# ctrlab server, GPU build: TensorFlow Java's linux-x86_64-gpu native library (CUDA 12, cuDNN 9).
#   docker build -f docker/gpu.Dockerfile -t ctrlab:gpu .
#   docker run --gpus all -p 50051:50051 -v /data:/data -v ctrlab-runs:/runs ctrlab:gpu --data-dir /data
# `ctrlab info` then reports the GPU as the device runs execute on.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN mvn -B -q -Pgpu -DskipTests install

FROM nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/server/target/ctrlab-server.jar /opt/ctrlab/ctrlab-server.jar
COPY --from=build /src/client-java/target/ctrlab-cli.jar /opt/ctrlab/ctrlab-cli.jar
EXPOSE 50051
ENTRYPOINT ["java", "-jar", "/opt/ctrlab/ctrlab-server.jar", "--host", "0.0.0.0", "--run-dir", "/runs"]
