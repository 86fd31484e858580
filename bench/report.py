"""``python -m bench.report --stamp docs/benchmarks.md``, the last step of ``make bench``.

The report helpers themselves live in ``bench.harness.report``; their names stay importable
from here.
"""

import sys

from bench.harness.report import (
    DOC_HEADER,
    STAMP_PREFIX,
    machine,
    main,
    publish,
    say,
    stamp_doc,
    write_doc,
)

__all__ = [
    "DOC_HEADER",
    "STAMP_PREFIX",
    "machine",
    "main",
    "publish",
    "say",
    "stamp_doc",
    "write_doc",
]

if __name__ == "__main__":
    sys.exit(main())
