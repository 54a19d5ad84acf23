"""Gunicorn settings for the line (production and `make run`)."""
import gc
import logging
import multiprocessing
import os

from gunicorn.glogging import Logger

bind = os.environ.get("IVR_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("IVR_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("IVR_THREADS", 4))
# Twilio waits 15 s for a webhook; a request taking longer than that is already lost.
timeout = 20
graceful_timeout = 20
keepalive = 5
# The access log leaves out query strings and bodies (%(U)s is the path alone), so no
# caller data travels into it. Webhooks write one JSON line of their own instead (RedactingLogger.access).
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
errorlog = "-"


class RedactingLogger(Logger):
    """gunicorn's own logs with anything shaped like a phone number redacted (a path a scanner sent)."""

    def setup(self, cfg):
        super().setup(cfg)
        from ivr.privacy import redact_handlers
        redact_handlers(self.error_log, self.access_log)

    def access(self, resp, req, environ, request_time):
        """The access line, unless the line wrote its own JSON line for this request (ivr.webhook.log_step
        carries the same method, path, status, bytes and time): one line per webhook, not two."""
        if environ.get("ivr.logged"):
            return
        super().access(resp, req, environ, request_time)


logger_class = RedactingLogger
# No log format here names a source line, a thread or a process name (gunicorn's names the
# process id, which stays): don't work them out for every line (the logging HOWTO's
# "Optimization"; a walk up the stack per log line otherwise).
logging._srcfile = None
logging.logThreads = logging.logMultiprocessing = False
# No control socket: several instances (replicas, tests) may run on one machine.
control_socket_disable = True
# Build the app once in the master and fork it into every worker: the settings are checked
# once (production refuses to start without its secrets, with one clear message), warnings are
# said once, and a worker that dies is replaced from the flow in memory, even while the
# call-flow file on disk has a broken edit (a worker loading it anew would fail to boot and
# take the whole line down with it).
preload_app = True


def pre_fork(server, worker):
    """Put what the master built (the app, the flow) out of the collector's sight before a worker is forked."""
    # Python's gc docs: freeze before fork. A worker's full collections then walk only what it made
    # itself, not the flow and the libraries (a pause for the calls every few seconds otherwise),
    # and don't write to the pages it shares with the master.
    gc.freeze()


def post_worker_init(worker):
    """Each worker watches the call-flow files itself, so every worker takes an edit within 2 s,
    and has its own connection and event writer before its first call (not during it: a caller's
    request took 100 to 400 ms when a worker connected, checked the schema and started its writer)."""
    storage = worker.wsgi.extensions.get("ivr.db")
    if storage is not None:  # the master connected once at start: its connections stay its own
        storage.forked()
    store = worker.wsgi.extensions.get("ivr.store")
    if store is not None:
        store.watch()
    if storage is not None and not storage.down:  # one that is down was said at start; calls try it again
        storage.attempt("connect to the store", lambda engine: (engine.connect().close(), storage.sink))


# Metrics from every worker add up (prometheus_client multiprocess mode): each worker writes
# its counts into one folder, and /metrics sums them. The folder is set here, before the app is
# preloaded (prometheus_client reads it on import), and is empty at each start of the server:
# the operator's PROMETHEUS_MULTIPROC_DIR wiped, or a new temporary folder removed at exit.
def _fresh_metrics_folder() -> None:
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.environ.get("IVR_METRICS_FOLDER") == folder:
        return  # this server already prepared it (gunicorn reads this file again on HUP)
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))
    else:
        folder = tempfile.mkdtemp(prefix="ivr-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        os.environ["IVR_METRICS_MADE"] = folder
    os.environ["IVR_METRICS_FOLDER"] = folder


_fresh_metrics_folder()


def when_ready(server):
    """Say where the line answers; the master served no calls, so what it counted is no worker's."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(os.getpid())
    for listener in server.LISTENERS:
        base = str(listener)  # http://127.0.0.1:5000
        server.log.info("The line is up on %s\n  Twilio voice webhook:  POST %s/voice\n"
                        "  Browser phone:         %s/simulator\n  Health:                %s/healthz",
                        base, base, base, base)


def child_exit(server, worker):
    """A worker ended: its live gauges (the flow version it served) stop counting; its counts stay."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder this server made for itself."""
    import shutil
    made = os.environ.get("IVR_METRICS_MADE")
    if made and made == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(made, ignore_errors=True)
