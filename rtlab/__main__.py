"""``python -m rtlab serve``: the lab's server in the foreground (``--workers N``: N processes, see rtlab.workers)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rtlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the server until SIGINT or SIGTERM")
    run.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=None, help="port (default 8000; 0 picks a free one)")
    run.add_argument("--broker", default=None, help="'memory' (default) or redis://host:port/db")
    run.add_argument("--workers", default=None, metavar="N",
                     help="worker processes sharing the port (default 1); more than 1 needs a Redis broker")
    run.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                     help="proxies whose X-Forwarded-For/-Proto are trusted (comma list or '*'; "
                          "default $FORWARDED_ALLOW_IPS or 127.0.0.1,::1, as uvicorn)")
    args = parser.parse_args(argv)
    return serve_forever(args)


def serve_forever(args: argparse.Namespace) -> int:
    from . import workers as multi
    from .app import create_app
    from .internals import UvicornServer
    from .server import uvicorn_config
    from .settings import Settings

    logging.basicConfig(level=logging.WARNING, format=multi.LOG_FORMAT)
    try:
        workers = multi.parse_workers(args.workers)
    except ValueError as exc:
        print(f"rtlab: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("broker", args.broker)) if v is not None}
    overrides.setdefault("port", 8000)
    try:
        # Checked with a stand-in secret first: a refusal is then one line, without the warning
        # about a missing RTLAB_SECRET that the real settings may log below.
        settings = Settings(**{**overrides, "secret": "checking"})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        print(f"rtlab: invalid {first['loc'][0]}: {first['msg']}", file=sys.stderr)
        return 2
    if workers > 1 and settings.broker == "memory":
        print(f"rtlab: --workers {workers} needs a Redis broker (--broker redis://host:port/db), not the memory "
              "broker: it keeps rooms, presence and history inside one process, so workers would not see "
              "each other's clients", file=sys.stderr)
        return 2
    if settings.broker != "memory" and (why := broker_unreachable(settings.broker)):
        print(f"rtlab: cannot reach the broker at {settings.broker}: {why}", file=sys.stderr)
        return 1
    settings = Settings(**overrides)
    # Bind first: a taken port is then one clear line, not uvicorn's traceback.
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        print(f"rtlab: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    extra = {} if args.forwarded_allow_ips is None else {"forwarded_allow_ips": args.forwarded_allow_ips}
    if workers > 1:
        def ready(pids: list[int]) -> None:
            print(f"rtlab serving on http://{settings.host}:{port} with {workers} workers "
                  f"(pids {' '.join(map(str, pids))})  (Ctrl+C to stop)", flush=True)

        try:
            return multi.run(settings, sock, workers, on_ready=ready, **extra)
        finally:
            sock.close()
    server = UvicornServer(uvicorn_config(create_app(settings), settings, log_level="warning", **extra))
    print(f"rtlab serving on http://{settings.host}:{port}  (Ctrl+C to stop)", flush=True)
    try:
        with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
            runner.run(server.serve(sockets=[sock]))
    except SystemExit as exc:  # uvicorn exits when the app cannot start; it logged why
        return exc.code if isinstance(exc.code, int) and exc.code else 1
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose accepted connections get ``TCP_NODELAY``.

    asyncio sets ``TCP_NODELAY`` on an accepted connection only when the listening socket's
    protocol is TCP; ``socket.create_server()`` leaves it 0, and every response on a reused
    keep-alive connection then waits about 40 ms for Nagle and delayed ACK.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def broker_unreachable(url: str) -> str | None:
    """Why the broker can't be reached, or None when it answers."""
    import redis

    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as client:
            client.ping()
    except Exception as exc:  # any failure is a reason not to start
        return str(exc) or type(exc).__name__
    return None


if __name__ == "__main__":
    sys.exit(main())
