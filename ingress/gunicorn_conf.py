"""gunicorn's settings for the ingress, in one place for the Procfile, docker-compose and the tests.

`gunicorn -c python:ingress.gunicorn_conf 'ingress.app:wsgi_app()'`; INGRESS_BIND and
INGRESS_WORKERS / INGRESS_THREADS choose where and how wide.
"""
import os

bind = os.environ.get("INGRESS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("INGRESS_WORKERS", "2"))
# Threads per worker: a request that waits (a slow client, the database) holds one, never the whole
# process; a client slower than INGRESS_READ_TIMEOUT loses its connection (ingress/server.py).
threads = int(os.environ.get("INGRESS_THREADS", "32"))
worker_class = "ingress.server.BoundedThreadWorker"
logger_class = "ingress.server.MaskingLogger"
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
graceful_timeout = 5
# Idle keep-alive connections wait in the selector, not in a thread.
keepalive = 5
