# syntax=docker/dockerfile:1
# payter-emulator: the OCPI/CPS emulator of Payter's platform and terminal.
#   docker build -t payter-emulator .
#   docker run -p 8080:8080 -e EMULATOR_ADMIN_TOKEN=change-me payter-emulator
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY emulator ./emulator
COPY tui ./tui
COPY fixtures ./fixtures
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EMULATOR_HOST=0.0.0.0 \
    EMULATOR_PORT=8080 \
    EMULATOR_DB=/data/payter-emulator.db \
    EMULATOR_LOG_FORMAT=json
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 emulator \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --create-home emulator
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# No curl in the image: the healthcheck uses the Python standard library.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('EMULATOR_PORT', '8080'), timeout=2)"]
ENTRYPOINT ["payter-emulator"]
CMD ["serve", "--host", "0.0.0.0"]
