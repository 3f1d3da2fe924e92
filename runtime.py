"""How this process runs, decided once, before anything imports sockets or threads: app.py imports this first.

Every process goes through app.py: the server as `python app.py`, the webhook worker and the CLI as
`flask --app app pix ...`, the tests by importing it. Only the server runs on green threads, one per waiting page
for a few KiB each, so only the server patches the standard library, here, before any other import, with the
runtime SOCKETIO_ASYNC_MODE names: eventlet (the default) or gevent. Every other process keeps real threads and
runs Socket.IO in threading mode:
- `flask` has imported threading, click and Werkzeug before it imports app.py: patching then would be too late
  for the locks they made;
- the worker sends each webhook on a thread of its own and delivers about 45 % fewer per second on green threads
  (bench/deliveries.py: 589/s on threads, 324/s on eventlet, same machine, same hour);
- pytest's threads, timeouts and subprocesses stay ordinary.
"""

import os
import warnings

GREEN_RUNTIMES = ("eventlet", "gevent")

# The project chose eventlet knowingly; its import-time deprecation notice only alarms operators.
warnings.filterwarnings("ignore", message="\nEventlet is deprecated")

_patched_for: str | None = None


def prepare(serving: bool) -> None:
    """Patch the standard library for the server's green runtime; any other process keeps real threads."""
    global _patched_for
    runtime = os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet")
    if not serving or runtime not in GREEN_RUNTIMES or _patched_for:
        return
    if runtime == "eventlet":
        import eventlet

        eventlet.monkey_patch()
    else:
        from gevent import monkey

        monkey.patch_all()
    _patched_for = runtime


def socketio_async_mode(configured: str) -> str:
    """The mode Socket.IO runs on here: the configured green runtime if this process is patched for it, else threads."""
    return configured if configured == _patched_for else "threading"
