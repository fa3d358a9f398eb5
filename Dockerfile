FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY config ./config
COPY schemas ./schemas
COPY connectors ./connectors
COPY flows ./flows
COPY workers ./workers
COPY ingress ./ingress
COPY db ./db
COPY sandbox ./sandbox
COPY cli ./cli
# The pinned versions CI tests (constraints.txt); no demo extra: the image has no embedded Redis.
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home paysync
USER paysync
ENV PAYSYNC_HOME=/home/paysync
