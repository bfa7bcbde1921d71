# ctrlab server, CPU build.
#   docker build -f docker/cpu.Dockerfile -t ctrlab:cpu .
#   docker run -p 50051:50051 -v /data:/data -v ctrlab-runs:/runs ctrlab:cpu --data-dir /data
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN mvn -B -q -DskipTests install

FROM eclipse-temurin:17-jre
# oneDNN CPU kernels (TensorFlow reads this once at start; off by default on CPUs without AVX-512 VNNI/BF16 or AMX).
ENV TF_ENABLE_ONEDNN_OPTS=1
COPY --from=build /src/server/target/ctrlab-server.jar /opt/ctrlab/ctrlab-server.jar
COPY --from=build /src/client-java/target/ctrlab-cli.jar /opt/ctrlab/ctrlab-cli.jar
EXPOSE 50051
ENTRYPOINT ["java", "-jar", "/opt/ctrlab/ctrlab-server.jar", "--host", "0.0.0.0", "--run-dir", "/runs"]
