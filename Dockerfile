# The replicator worker/CLI image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY replicator ./replicator
COPY connectors ./connectors
COPY schemas ./schemas
COPY deploy ./deploy
RUN pip install --no-cache-dir .
ENV REPLICATOR_WORKER_WEB_HOST=0.0.0.0
# Logs go to a pipe: unbuffered, each line reaches `docker logs`/`kubectl logs` as it is written.
ENV PYTHONUNBUFFERED=1
CMD ["replicator", "worker", "run"]
