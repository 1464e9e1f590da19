"""Dispatch ``python -m segutils.course.bench <name> [args]`` to ``segutils.course.bench.<name>.main``."""

import importlib
import sys

BENCHMARKS = ("pipeline", "models", "train", "infer")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m segutils.course.bench {{{'|'.join(BENCHMARKS)}}} [--help]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"segutils.course.bench.{argv[0]}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
