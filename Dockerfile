# The replicator worker/CLI image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY replicator ./replicator
COPY connectors ./connectors
COPY schemas ./schemas
COPY deploy ./deploy
# Editable: the package reads connectors/v1-source.json and schemas/mapping.yaml beside itself (the one
# description of the connector, the default mapping); installed into site-packages it would not find them.
RUN pip install --no-cache-dir -e .
ENV REPLICATOR_WORKER_WEB_HOST=0.0.0.0
# Logs go to a pipe: unbuffered, each line reaches `docker logs`/`kubectl logs` as it is written.
ENV PYTHONUNBUFFERED=1
CMD ["replicator", "worker", "run"]
