"""The HTTP edge of OrderGraph: configuration, the Starlette app, and the CLI."""
