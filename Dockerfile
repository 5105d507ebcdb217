# Production image: one image, three roles (migrate, web, worker) chosen by the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 GATEWAY_ENV=production
RUN useradd --system --uid 10001 --home-dir /app gateway
WORKDIR /app

COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY tenants ./tenants
COPY web ./web
COPY workers ./workers
COPY sandbox ./sandbox
COPY cli ./cli
RUN pip install .

USER gateway
EXPOSE 8000
CMD ["gateway", "web", "--host", "0.0.0.0", "--port", "8000"]
