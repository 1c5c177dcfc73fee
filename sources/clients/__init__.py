"""The native REST clients of the four sources: the native adapters
(:mod:`sources.adapters`)."""
