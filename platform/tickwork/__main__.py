"""``python -m tickwork`` is the same as the ``tickwork`` console script."""

from tickwork.cli import main

main()
