"""``python -m rtlab.bench fanout`` and ``python -m rtlab.bench scaleout``."""
import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("fanout", "scaleout"):
        print("usage: python -m rtlab.bench {fanout,scaleout} [--help]", file=sys.stderr)
        return 2
    if sys.argv[1] == "fanout":
        from .fanout import main
    else:
        from .scaleout import main
    return main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
