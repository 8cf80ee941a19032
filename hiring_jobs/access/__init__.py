"""Who may use the admin pages and the API, shared by the web app and the CLI.

- `accounts`: named staff accounts (viewer, operator, admin), bootstrapped from settings;
- `tokens`: API tokens for applications and scripts, stored as keyed hashes;
- `throttle`: failed-login counters and lockouts, in PostgreSQL;
- `logins`: one password or token check, throttled and audited;
- `keys`: the server's secret key.
"""
