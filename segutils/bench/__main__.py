"""Dispatch ``python -m segutils.bench <name> [args]`` to ``segutils.bench.<name>.main``."""

import importlib
import sys

BENCHMARKS = ("pipeline", "models", "train", "infer")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m segutils.bench {{{'|'.join(BENCHMARKS)}}} [--help]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"segutils.bench.{argv[0]}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
