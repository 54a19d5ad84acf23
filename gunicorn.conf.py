"""Gunicorn settings for the line (production and `make run`)."""
import multiprocessing
import os

bind = os.environ.get("IVR_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("IVR_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("IVR_THREADS", 4))
# Twilio waits 15 s for a webhook; a request taking longer than that is already lost.
timeout = 20
graceful_timeout = 20
keepalive = 5
# The access log leaves out query strings and bodies (%(U)s is the path alone), so no
# caller data travels into it.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
# No control socket: several instances (replicas, tests) may run on one machine.
control_socket_disable = True


def post_worker_init(worker):
    """Each worker watches the call-flow files itself, so every worker takes an edit within 2 s."""
    store = worker.wsgi.extensions.get("ivr.store")
    if store is not None:
        store.watch()
