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


# Metrics from every worker add up (prometheus_client multiprocess mode): each worker writes
# its counts into one folder, fresh for each start of the server, and /metrics sums them.
def on_starting(server):
    """Give this server start an empty metrics folder (PROMETHEUS_MULTIPROC_DIR, or a new one)."""
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))
    else:
        folder = tempfile.mkdtemp(prefix="ivr-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        _made.append(folder)


def child_exit(server, worker):
    """A worker ended: its live gauges (flow version served) stop counting; its counts stay."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder this server made for itself."""
    import shutil
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)


_made: list = []  # metrics folders this server made, removed when it exits
