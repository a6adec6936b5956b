# One image for every process: web, worker and the release (migration) step.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml ./
COPY drape ./drape
COPY db ./db
COPY server ./server
COPY realtime ./realtime
COPY workers ./workers
COPY migrations ./migrations
COPY Procfile ./
RUN pip install . && useradd --system --uid 10001 drape
USER drape

ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
CMD ["python", "-m", "server"]
