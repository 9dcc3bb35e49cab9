"""The APIs that come with bulkfetch, one package each (client, adapter, models, command,
emulator routes), registered as plugins (see :mod:`bulkfetch.plugins`)."""
