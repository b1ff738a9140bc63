"""HTTP routers: jobs (the API), catalog (shipped jobs), health, ui (the static web UI)."""
