"""gunicorn's settings for the shop: `gunicorn -c gunicorn.conf.py wsgi:app`.

Each worker process serves several requests at once on threads, so a request waiting on
Stripe (at most 15 s) or a database that does not answer (cut after its statement timeout,
11 s) never leaves the shop without a free hand: /healthz and the pages keep answering.
gunicorn kills a worker only after `timeout`, longer than any of those deadlines.
Every value can be set from the environment for one host without editing this file.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# One process per core (at least two, so one can restart while the other serves), each
# with threads for the requests that wait on Stripe, SMTP or the database.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced now and then, so no slow leak grows for ever.
max_requests = 5000
max_requests_jitter = 500
# The app is loaded once in the master and shared by the workers it forks.
preload_app = True
# The shop writes its own JSON line per request; gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
