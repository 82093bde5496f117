"""Email through an outbox table: queued with the change that causes it, sent by the worker."""
