"""``python -m rtlab.bench {echo,fanout,capacity,sse,scaleout} [--json] [--help]``.

Every benchmark runs its servers in their own processes on 127.0.0.1, bounded in count and
time, side by side in one run, and reports ratios to the raw ``websockets`` reference (or, for
``scaleout``, to the in-memory broker). ``--json`` prints the rows for notebooks and scripts.

Server CPU figures (``echo``, ``fanout``, ``sse``) come from at least ``--min-cpu`` seconds of
server CPU per cell (1.0 by default), with their spread over ``--repeat`` repeats; a figure
from less is marked ``*`` (``cpu_reliable: false``). See :mod:`rtlab.bench.common`.
"""
import importlib
import sys

COMMANDS = {
    "echo": "round trips per second over one connection, per uvicorn WebSocket implementation",
    "fanout": "one message to many clients, with and without stalled clients",
    "capacity": "server memory per idle connection and time to open them, deflate on and off",
    "sse": "announcements to 1,000 subscribers: rtlab, fastapi.sse, sse-starlette, websockets; overload",
    "scaleout": "cross-process delivery through Redis against the in-memory broker",
}


def usage() -> str:
    lines = ["usage: python -m rtlab.bench COMMAND [--json] [--help]", "", "commands:"]
    lines += [f"  {name:9} {what}" for name, what in COMMANDS.items()]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(usage(), file=sys.stderr)
        return 2
    module = importlib.import_module(f"rtlab.bench.{sys.argv[1]}")
    return module.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
