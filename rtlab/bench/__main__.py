"""``python -m rtlab.bench fanout``."""
import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("fanout",):
        print("usage: python -m rtlab.bench fanout [--help]", file=sys.stderr)
        return 2
    from .fanout import main as fanout
    return fanout(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
