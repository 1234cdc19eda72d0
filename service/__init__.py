"""The outguard sidecar: the library's Report over HTTP, a guarded OpenAI-compatible proxy, and the review page.

Imports only guardrails' public API and its stores (guardrails.reviews, guardrails.facts, guardrails.guard).

    from service import ServiceConfig, create_app
    app = create_app(ServiceConfig(policies=["default"], review_db="sqlite:///var/reviews.sqlite3"))
"""

from service.app import create_app
from service.config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
