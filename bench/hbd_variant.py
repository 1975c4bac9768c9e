"""Start the hbd daemon from another source tree and/or with mlockall(MCL_ONFAULT), for side-by-side idle
figures of the same run (bench/idle_daemons.py --variants): `python bench/hbd_variant.py [--tree DIR]
[--onfault] -- HBD_ARGS`.

--tree: a directory holding an `hbd` package (e.g. `git archive COMMIT hbd | tar -x -C DIR`), imported
instead of the checkout's. --onfault: the daemon's mlockall also gets MCL_ONFAULT (Linux >= 4.4), so that
pages are locked when first touched instead of all mapped pages being made resident at once.
"""
from __future__ import annotations

import runpy
import sys

MCL_ONFAULT = 4


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    own, rest = argv[:split], argv[split + 1:]
    if "--tree" in own:
        sys.path.insert(0, own[own.index("--tree") + 1])
    if "--onfault" in own:
        import hbd.runtime.process as process

        process.MCL_CURRENT |= MCL_ONFAULT  # read at the mlockall call
    sys.argv = ["hbd", *rest]
    runpy.run_module("hbd.cli.main", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
