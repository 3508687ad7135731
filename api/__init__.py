"""The HTTP API for portals (Open OnDemand, Slurm-web): when a pending job starts and why, a
site what-if, the stored site. Read-only: no route acts on the cluster. `create_app` in
`api.app`; `schedsight serve-api` serves it."""
