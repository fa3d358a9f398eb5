FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY schemas ./schemas
COPY connectors ./connectors
COPY flows ./flows
COPY workers ./workers
COPY ingress ./ingress
COPY db ./db
COPY sandbox ./sandbox
COPY cli ./cli
RUN pip install --no-cache-dir . && useradd --create-home paysync
USER paysync
ENV PAYSYNC_HOME=/home/paysync
