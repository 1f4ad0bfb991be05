"""memport's Datasette plugin: in a memport store's views, each uid links to its record's row.

Datasette links the rows of tables (their primary keys, their foreign keys), not those of views;
the views (:data:`memport.store.schema.VIEWS`) leave out the native JSON, so this makes it one
click away again. Datasette loads the plugin by itself when memport is installed in its
environment (the ``datasette`` entry point); it touches nothing but uids in the views of a
database that is a memport store (one with memport's ``import_runs`` table and these views).
"""

from __future__ import annotations

import weakref
from typing import Any

import markupsafe
from datasette import hookimpl
from datasette.utils import tilde_encode

from .schema import KINDS, VIEWS

# the columns of the views that hold a uid
UID_COLUMNS = frozenset({"uid", "source_uid", "target_uid", "document_uid"})


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    if table not in VIEWS or column not in UID_COLUMNS or not isinstance(value, str):
        return None
    kind = value.split(":", 2)[1] if value.count(":") >= 2 else None
    if kind not in KINDS:
        return None

    async def link() -> Any:
        if table not in await _store_views(datasette, database):
            return None
        url = datasette.urls.row(database, kind, tilde_encode(value))
        return markupsafe.Markup(f'<a href="{markupsafe.escape(url)}">{markupsafe.escape(value)}</a>')

    return link()


# Datasette -> database name -> the memport views it has (none: not a memport store)
_VIEWS_OF: weakref.WeakKeyDictionary[Any, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()


async def _store_views(datasette: Any, database: str) -> frozenset[str]:
    """The memport views of Datasette's ``database``, if it is a memport store (asked once)."""
    known = _VIEWS_OF.setdefault(datasette, {})
    if database not in known:
        db = datasette.get_database(database)
        found = frozenset(VIEWS) & set(await db.view_names()) if await db.table_exists("import_runs") else frozenset()
        known[database] = found
    return known[database]
