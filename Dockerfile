# Production image for web, worker and beat (docker-compose.yml runs all three from it).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DASHBOARD_DATA_DIR=/data
WORKDIR /app

COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && DEBUG=true STATIC_MANIFEST=true python manage.py collectstatic --no-input -v 0 \
    && useradd --system --uid 1000 --home /data dashboard \
    && mkdir -p /data/archives /data/beat && chown -R dashboard /data

USER dashboard
EXPOSE 8000
CMD ["gunicorn", "dashboard.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
