"""Bounds on what the dashboard reads and accepts, in one place.

A hostile or broken run directory, or a crafted request, must cost the server little: every
read is bounded in bytes, every parse in nodes, every input in length, and every cache in
entries. Past a bound the dashboard says so ("too large", "not a run name", …) instead of
working harder.
"""

from __future__ import annotations

# -- files of a run directory ------------------------------------------------------------------
MAX_MANIFEST_BYTES = 1_000_000
"""A ``manifest.json`` above this is "too large" and not parsed (real ones are ~1 KB)."""
MAX_CONFIG_BYTES = 10_000_000
"""A ``config.yaml`` above this is "too large" and not parsed (real ones are ~10-100 KB)."""
MAX_CONFIG_NODES = 1_000_000
"""YAML nodes a config may hold, an alias counted as the size of what it names (so an
alias bomb is refused after a few events, before anything is built)."""
MAX_CONFIG_DEPTH = 64
"""Nesting depth of a config's YAML (real ones nest ~6 deep)."""
MAX_TABLE_BYTES = 4 * 2**30
"""An Arrow table file above this is "too large" (tables are read into memory)."""
MAX_SWEEP_BYTES = 256 * 2**20
"""A ``sweep.arrow`` above this is "too large" (one row per point: real ones are ~100 KB)."""
MAX_SWEEP_POINTS = 100_000
"""Points (rows) of one ``sweep.arrow`` the dashboard reads; more is "malformed"."""
MAX_SHOWN_POINTS = 10_000
"""Rows of a sweep's points table sent to the browser (the page says when there are more)."""
MAX_TIME_S = 1e12
"""Times of trace rows and requested times beyond ±this (~31,700 years) are refused."""

# -- callback inputs ---------------------------------------------------------------------------
MAX_NAME_CHARS = 255
"""A run name is one directory entry: at most this long (NAME_MAX)."""
MAX_KEY_CHARS = 200
"""A site, link, tenant or state id, a column id."""
MAX_CHOICES = 1000
"""Values of one multi-select."""
MAX_QUERY_CHARS = 10_000
"""The jobs table's filter query."""
MAX_SORT_KEYS = 20
MAX_PAGE = 10**9
MAX_PAGE_SIZE = 1000
MAX_URL_CHARS = 4096
"""A URL path or query string; longer ones are cut here before they are parsed."""
MAX_SHOWN_CHARS = 80
"""Hostile input echoed in a message is cut to this."""
MAX_REQUEST_BYTES = 16 * 2**20
"""Body of one callback request (Flask answers 413 above it)."""

# -- caches ------------------------------------------------------------------------------------
LISTING_TTL_S = 1.0
"""How long the runs list is reused before the runs directory is looked at again."""
RUN_CACHE_SIZE = 8
"""Opened runs kept (each holds its tables in memory)."""
CONFIG_CACHE_SIZE = 64
"""Parsed ``config.yaml`` files kept, by file identity."""
FIGURE_CACHE_SIZE = 512
"""Built figures and other derived values kept, over all runs."""
SERIES_CACHE_SIZE = 64
"""Downsampled series and filtered job tables kept per run."""
