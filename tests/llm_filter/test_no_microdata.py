"""Without microdata nothing can overrule the filter: the fit and `check` say so."""

from __future__ import annotations

import pytest

import populace as pp
from populace.data.acs12 import KnowledgeScorer, acs12_task
from populace.inference.fit import UNIDENTIFIED_WEIGHT


@pytest.mark.pipeline
@pytest.mark.parametrize("fraction", [0.0, 0.05])
def test_a_filter_without_microdata_is_flagged(fraction: float, capsys: pytest.CaptureFixture) -> None:
    task = acs12_task(fraction, 0)
    post = pp.fit(task.spec, draws=30, chains=1, seed=0, scorer=KnowledgeScorer(), progress=False)
    warned = UNIDENTIFIED_WEIGHT in capsys.readouterr().err
    checks = pp.check(post).checks
    messages = checks.loc[checks["check"].str.startswith("plausibility weight"), "message"].tolist()
    assert messages
    flagged = "no microdata" in messages[0]
    assert warned == flagged == (fraction == 0.0)
