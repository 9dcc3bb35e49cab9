"""A Python plugin, for an API a description cannot say all of: the one module its author
imports. (:mod:`bulkfetch.plugins` is where bulkfetch finds the installed ones.)

Subclass :class:`Api` with the API's description as TOML in ``toml``, override the hooks
the description cannot say (:meth:`~Api.normalise` a value, :meth:`~Api.read` an answer,
:meth:`~Api.result` as a type of your own, :meth:`~Api.emulate` the emulator's answers),
and register :func:`plugin_of` it under the entry-point group ``bulkfetch.apis``::

    [project.entry-points."bulkfetch.apis"]
    echo = "bulkfetch_echo:plugin"

bulkfetch gives it the rest: a command (``bulkfetch echo INPUT --column C --out OUT``, with
every option of the built-in commands: formats, ``--plan``, ``--max-calls``, ``--rate``,
``--db``), the store, pacing, retries, stops and resume, ``bulkfetch work``, ``export``
and ``status``, and a route on ``bulkfetch emulate``. A hook that raises on an odd answer
fails that lookup, saying why, never the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkfetch.describe.client import DescribedApi as Api
from bulkfetch.errors import InvalidInputError
from bulkfetch.plugins import ApiPlugin

__all__ = ["Api", "InvalidInputError", "plugin_of"]


def plugin_of(api: type[Api], *, command: str | None = None) -> ApiPlugin:
    """The plugin of ``api``: its command (``command``, default the description's name)
    with the class's first docstring line as its help, its runs' clients rebuilt, its
    emulator route. A mistake in its description is found here, as it is loaded."""
    description = api.described()
    api.plugin_name = description.name  # its runs' specs name this plugin

    def rebuild(spec: Mapping[str, Any], environ: Mapping[str, str] | None) -> Api:
        return api(environ=environ, **api.options_of(spec))

    def mount(app: Any) -> None:
        from bulkfetch.describe.emulated import mount_api

        mount_api(app, description, emulate=api.emulate)

    return ApiPlugin(
        name=description.name,
        rebuild=rebuild,
        mount=mount,
        command=command or description.name,
        help=_first_line(api.__doc__ or description.about),
        client=api,
    )


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
