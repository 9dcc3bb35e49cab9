"""The APIs bulkfetch speaks. Each module is one adapter (see :mod:`bulkfetch.adapter`)."""
