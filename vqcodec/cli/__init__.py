"""Command-line interface: parse, call the library, print one line. No codec logic here.

`common` holds the `vqcodec` group and what every command shares; `codec`, `bench` and `train`
register their commands on it.
"""

from vqcodec.cli import bench, codec, train, web  # noqa: F401  (register the commands)
from vqcodec.cli.common import main

__all__ = ["main"]
