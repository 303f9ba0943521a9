"""``python -m trapline`` is the ``trapline`` command."""

from trapline.cli import main

main()
