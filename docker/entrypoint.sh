#!/bin/sh
# Container entry point: `web`, `migrate`, `worker [celery worker options]`, `beat`, `demo`,
# or any other command (run as given).
set -eu

case "${1:-web}" in
  web)
    shift || true
    exec gunicorn annotator.wsgi:application \
      --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-3}" \
      --timeout "${WEB_TIMEOUT:-120}" \
      --access-logfile - "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput
    ;;
  worker)
    shift
    exec celery -A annotator worker --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  beat)
    # One per deployment: the periodic re-send checks (units and clicks left by a dead worker
    # or sent while the broker was away). Its schedule file only records the last runs.
    shift
    exec celery -A annotator beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule /tmp/celerybeat-schedule "$@"
    ;;
  demo)
    # The embedded demo (SQLite, in-process tasks); ALLOWED_HOSTS must name the host you browse.
    exec python manage.py demo --addr "0.0.0.0:${PORT:-8000}"
    ;;
  *)
    exec "$@"
    ;;
esac
