"""HTTP routers: jobs (the API), catalog (shipped jobs), health; orion/main.py serves the static web UI."""
