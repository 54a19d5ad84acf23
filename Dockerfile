# The Recovery Helpline phone line.
FROM python:3.11-slim

# IVR_WORKERS per container: scale with more replicas, not more workers per replica.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    IVR_ENV=production IVR_BIND=0.0.0.0:8000 IVR_WORKERS=2 IVR_THREADS=4 \
    IVR_CALL_FLOWS=/app/call_flows.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ivr ./ivr
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 ivr \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin ivr \
    && mkdir -p /app/var && chown ivr:ivr /app/var
COPY gunicorn.conf.py call_flows.yaml ./
COPY prompts ./prompts

# Numeric, so Kubernetes' runAsNonRoot can verify it; the code and flow stay root-owned (read-only).
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "ivr:create_app()"]
