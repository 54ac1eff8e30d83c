"""The long-running service runtime of `crmsync serve`, beside its HTTP side (web/): where a stored
webhook goes next. The intake worker (worker.py, resolve.py) turns stored hints into companies and
runs the one reconcile use case for them (runs.py); polling, the scheduled jobs, alerts and the
mapping hot reload live here too. app.py wires it all (`build_service`).
"""
