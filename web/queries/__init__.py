"""The SQL behind the admin pages and the API: bound parameters only, capped counts, keyset."""
