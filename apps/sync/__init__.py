"""Background sync: Celery tasks that mirror each Cloud account's conversations and sandboxes
into the local database under a shared per-account rate budget."""
