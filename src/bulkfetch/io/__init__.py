"""Input and output: sources a run reads rows from, sinks it writes them to, and how a
nested answer becomes flat columns."""
