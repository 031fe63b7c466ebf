"""Print the installed packages whose versions differ from the lock (``make test-latest`` calls it).

Usage: python .ci/lock_diff.py [--extras] requirements.lock
Lists packages upgraded, downgraded, added or missing relative to the lock's ``name==version`` pins; with
``--extras``, only the names of installed packages the lock lacks, one per line (``make install`` removes them,
so a venv made from an older lock holds exactly the new one).
"""
import re
import sys
from importlib.metadata import distributions
from pathlib import Path

NOT_COMPARED = ("kaggle-kit", "pip", "setuptools", "wheel")  # the kit itself, the installer, the build backend
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path) -> dict[str, str]:
    return {canonical(m[1]): m[2] for line in lock.read_text().splitlines() if (m := PIN.match(line))}


def installed_versions() -> dict[str, str]:
    found = {canonical(d.metadata["Name"]): d.version for d in distributions() if d.metadata["Name"]}
    return {name: version for name, version in found.items() if name not in NOT_COMPARED}


def main(argv: list[str]) -> int:
    extras = "--extras" in argv
    argv = [a for a in argv if a != "--extras"]
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    lock, now = locked_versions(Path(argv[0])), installed_versions()
    lock = {name: version for name, version in lock.items() if name not in NOT_COMPARED}
    if extras:
        print("\n".join(sorted(set(now) - set(lock))))
        return 0
    rows = [(name, lock.get(name, "-"), now.get(name, "-")) for name in sorted(set(lock) | set(now))
            if lock.get(name) != now.get(name)]
    print(f"versions differing from {argv[0]}: {len(rows)}")
    width = max([len(name) for name, _, _ in rows], default=0)
    for name, locked, latest in rows:
        print(f"  {name:<{width}}  {locked} -> {latest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
