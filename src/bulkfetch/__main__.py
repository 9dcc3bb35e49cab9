"""``python -m bulkfetch``."""

from bulkfetch.cli import main

main()
