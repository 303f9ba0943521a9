"""Security primitives for the HTTP API and the web UI, free of any web framework.

- ``passwords``: argon2id hashes, off the event loop; first-start passwords
- ``tokens``: API tokens, stored as SHA-256 digests
- ``sessions``: browser sessions in signed cookies; the cookie's attributes
- ``secret_key``: the node's signing key, one file shared by its workers
- ``csrf``: CSRF tokens and the origin check for every state change
- ``login_limiter``: login attempts limited per account and per address
- ``roles``: Administrator and Analyst, their permissions, the Principal

docs/security.md describes them for operators.
"""
