"""What every test peer shares: a threaded HTTP server on 127.0.0.1 that announces itself.

A peer is started as ``python3 Tests/Peers/NAME.py --port 0 …`` (see Tests/TestSupport/Peer.swift).
It binds 127.0.0.1 only, prints exactly ``READY <port>`` on stdout once it listens (nothing else
goes to stdout, so an undrained pipe can never block it), stops cleanly on SIGTERM or SIGINT,
and serves each connection in its own daemon thread, so a held request never blocks the others.

Python 3.11 standard library only.
"""

import signal
import sys
from http.server import ThreadingHTTPServer


def serve(handler_class, port=0, on_bound=None):
    """Serves ``handler_class`` on 127.0.0.1:``port`` until SIGTERM or SIGINT; returns 0.

    ``on_bound(server)`` runs after the port is known and before ``READY`` is printed, for a
    peer that must know its own address (URLs it hands out)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_class)
    server.daemon_threads = True
    if on_bound is not None:
        on_bound(server)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0
