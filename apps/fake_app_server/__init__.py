"""A fake OpenHands Cloud App Server (V1 API) for tests, benchmarks and the dashboard's demo mode.

A real HTTP server on loopback that answers the ``/api/v1`` routes with the shapes of the Cloud
OpenAPI document and the quirks recorded in ``reference/app-server-v1.md``, over deterministic,
seeded data that can be tiny (``demo``), empty or huge (``volume``). A fake clock makes time pass
(conversations finish, sandboxes pause when idle, conversations appear and vanish upstream), and
a control API under ``/_fake/`` lets tests inject faults, advance time, reset and mutate the world.

Run it with ``python -m apps.fake_app_server --help``. Plain Python: no Django imports here.
"""
