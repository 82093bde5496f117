"""The WSGI entry point for gunicorn: `gunicorn -w 2 wsgi:app`."""

import gc

from shop import create_app

app = create_app()
# The loaded app is long-lived: keep its objects out of the garbage collector's full passes,
# which otherwise stall a request now and then (measured by `make bench`).
gc.freeze()
