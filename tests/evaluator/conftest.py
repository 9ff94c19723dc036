"""The evaluator's fixtures: the shared `api`/`tokens` fixtures on a daemon with the evaluator adapter."""

from __future__ import annotations

import pytest

EVALUATOR = "evaluator.service:EvaluatorAdapter"


@pytest.fixture
async def daemon(make_daemon):
    return await make_daemon(adapters=[EVALUATOR])
