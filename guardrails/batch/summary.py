"""The end-of-run summary: rows by verdict and by code, bad rows named, what was resumed, how fast.

Counts cover the whole output, rows an earlier run wrote included (`resumed` says how many), so a resumed run
ends with the same summary as one that never stopped. Bad rows are printed as they are met; the summary keeps
the first `MAX_LISTED` of them (every one is counted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 1000


@dataclass
class Summary:
    input: str
    output: str
    engine: str = "local"
    validated: int = 0
    resumed: int = 0
    queued: int = 0
    bad: int = 0
    elapsed_s: float = 0.0
    by_verdict: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)

    def count(self, verdict: str, codes: Iterable[str]) -> None:
        self.by_verdict[verdict] += 1
        self.by_code.update(codes)

    def bad_row(self, where: str, reason: str, ident: str | int | None) -> None:
        self.bad += 1
        if len(self.bad_rows) < MAX_LISTED:
            self.bad_rows.append({"where": where, "id": ident, "reason": reason})

    @property
    def rows(self) -> int:
        return self.validated + self.resumed

    @property
    def rate(self) -> float:
        return self.validated / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "engine": self.engine,
            "rows": self.rows,
            "validated": self.validated,
            "resumed": self.resumed,
            "bad": self.bad,
            "queued_for_review": self.queued,
            "elapsed_s": round(self.elapsed_s, 3),
            "rows_per_s": round(self.rate, 1),
            "by_verdict": dict(sorted(self.by_verdict.items())),
            "by_code": dict(sorted(self.by_code.items(), key=lambda kv: (-kv[1], kv[0]))),
            "bad_rows": self.bad_rows,
            "bad_rows_listed": len(self.bad_rows),
        }

    def lines(self) -> list[str]:
        """For stderr: the counts line first (the one scripts grep), then codes, most frequent first."""
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_verdict.items()))
        head = f"{self.rows} validated ({verdicts}), {self.bad} skipped"
        extra = []
        if self.resumed:
            extra.append(f"{self.resumed} already in {self.output}")
        if self.queued:
            extra.append(f"{self.queued} queued for review")
        if self.validated and self.elapsed_s > 0:
            extra.append(f"{self.validated} in {self.elapsed_s:.1f}s, {self.rate:,.0f}/s")
        out = [head + (f"; {'; '.join(extra)}" if extra else "")]
        if self.by_code:
            top = sorted(self.by_code.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{code} {n}" for code, n in top[:20])
            more = f" (+{len(top) - 20} more codes)" if len(top) > 20 else ""
            out.append(f"rows by code: {shown}{more}")
        return out
