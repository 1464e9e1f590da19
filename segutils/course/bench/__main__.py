"""Dispatch ``python -m segutils.course.bench <name> [args]`` to ``segutils.course.bench.<name>.main``."""

import importlib
import sys

BENCHMARKS = ("pipeline", "models", "train", "infer")


def main(argv: list[str]) -> int:
    usage = f"usage: python -m segutils.course.bench {{{'|'.join(BENCHMARKS)}}} [--help]"
    if argv[:1] in (["-h"], ["--help"]):
        modules = {name: importlib.import_module(f"segutils.course.bench.{name}") for name in BENCHMARKS}
        lines = [f"  {name:<9} {m.__doc__.splitlines()[0].split(': ', 1)[-1]}" for name, m in modules.items()]
        print("\n".join([usage, "", *lines, "", "python -m segutils.course.bench NAME --help shows its options."]))
        return 0
    if not argv or argv[0] not in BENCHMARKS:
        unknown = f"\nunknown benchmark {argv[0]!r}" if argv else ""
        print(f"{usage}{unknown}", file=sys.stderr)
        return 2
    from segutils.config import UnknownProfileError
    from segutils.data import DataError

    module = importlib.import_module(f"segutils.course.bench.{argv[0]}")
    try:
        return module.main(argv[1:])
    except (UnknownProfileError, DataError) as err:  # a profile or dataset segutils refuses: its message alone
        print(f"python -m segutils.course.bench {argv[0]}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
