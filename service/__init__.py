"""The outguard sidecar: FastAPI service and the review web page."""
