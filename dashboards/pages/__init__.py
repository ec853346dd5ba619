"""The dashboard's pages: each module has ``PATH``, ``TITLE``, ``layout(context, search)``
and ``register(app, context)`` (its callbacks, bound to one app: no global registry)."""
