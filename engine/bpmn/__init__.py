"""Process definitions: safe loading and lint, parsing into SpiffWorkflow specs, the sandbox, timers,
the state serializer, forms, deployment, and the designer's tools (parse → spec → serialize)."""
