"""What every layer above the store shares about API objects (Kubernetes' apimachinery, in small).

Quantities (`500m`, `1Gi`), label selectors, and API timestamps and durations: pure functions
and values with no HTTP, no store and no client in them, so the API server, the controllers,
the scheduler, the agent and the CLI all read objects the same way. Each caller maps the
errors raised here (ValueError subclasses) to its own: the API to a 400, the CLI to an exit code.
"""
