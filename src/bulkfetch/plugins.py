"""The APIs bulkfetch speaks, found as plugins: each API is one package that registers an
:class:`ApiPlugin` under the entry-point group ``bulkfetch.apis``.

::

    [project.entry-points."bulkfetch.apis"]
    myapi = "my_package.plugin:plugin"

The command line, ``bulkfetch work``, ``export``, ``status`` and ``emulate`` find APIs here
only. A run keeps its adapter's :meth:`~bulkfetch.adapter.Adapter.spec` (and the plugin's
name) in the store; a worker that joins the run rebuilds the adapter from it with the keys
of its own environment.
"""

from __future__ import annotations

import argparse
import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from bulkfetch.adapter import Client
from bulkfetch.errors import UsageError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["GROUP", "ApiPlugin", "key_from", "on_call", "plugin", "plugins", "rebuild"]

GROUP = "bulkfetch.apis"


@dataclass(frozen=True, slots=True)
class ApiPlugin:
    """What an API package gives bulkfetch (a Python plugin makes one with
    :func:`bulkfetch.plugin.plugin_of`)."""

    name: str  # the adapter's name, as the runs in a store name their API
    # The adapter a run's spec describes, with keys from ``environ``; ``environ=None`` gives
    # one that only writes kept answers out (``export``) and must make no call.
    rebuild: Callable[[Mapping[str, Any], Mapping[str, str] | None], Client]
    # Adds the API's own subcommands (``enrich``) to the command line's subparsers.
    add_commands: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] | None = (
        None
    )
    # Mounts the API's routes on the emulator (``bulkfetch emulate``), if it has any.
    mount: Callable[[web.Application], None] | None = None
    # Adds the API's own options to ``bulkfetch emulate``; returns what makes the parsed
    # arguments into the emulator's ``options`` for its routes.
    emulator_options: (
        Callable[[argparse.ArgumentParser], Callable[[argparse.Namespace], dict[str, Any]]] | None
    ) = None
    # Its routes answer only what no other API's do: mounted after every other's.
    fallback: bool = False
    # A command bulkfetch makes for it (a file through its client, with every option of
    # the built-in commands): its name, its help, and its client's class.
    command: str | None = None
    help: str = ""
    client: Callable[..., Client] | None = None


def on_call(target: str) -> Callable[..., Any]:
    """The function ``target`` names (``package.module:name``), its module imported when it
    is first called: what one command needs (the emulator's routes, and aiohttp's server
    with them) costs every other command nothing at start-up."""
    module, _, name = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return call


@functools.cache
def plugins() -> Mapping[str, ApiPlugin]:
    """Every installed API, by name."""
    found: dict[str, ApiPlugin] = {}
    for entry in entry_points(group=GROUP):
        loaded = entry.load()
        if not isinstance(loaded, ApiPlugin):
            raise UsageError(f"the plugin {entry.value!r} is not a bulkfetch ApiPlugin")
        found[loaded.name] = loaded
    return found


def plugin(name: str) -> ApiPlugin:
    """The installed API of this name, or a :class:`UsageError` saying which are."""
    found = plugins().get(name)
    if found is None:
        known = ", ".join(sorted(plugins())) or "none"
        raise UsageError(
            f"the store holds a run of an API that is not installed here: {name!r} (installed:"
            f" {known})"
        )
    return found


def rebuild(api: str, spec: Mapping[str, Any], environ: Mapping[str, str] | None) -> Client:
    """The adapter of a run of ``api`` from the spec it keeps, by the plugin that made it
    (the spec's ``plugin``, if another than the API's own: a described API's)."""
    return plugin(str(spec.get("plugin") or api)).rebuild(spec, environ)


def key_from(
    environ: Mapping[str, str] | None,
    name: str,
    *,
    required: bool = True,
    api: str = "the run's API",
) -> str | None:
    """A key from ``environ`` for a client: a placeholder when ``environ`` is None (an
    export makes no call), an error naming the variable when a required one is missing."""
    if environ is None:
        return EXPORT_ONLY
    found = environ.get(name) or None
    if found is None and required:
        raise UsageError(f"no key for {api}: set {name}")
    return found


EXPORT_ONLY = "(export only: no calls are made)"  # a rebuilt client's key, for an export
