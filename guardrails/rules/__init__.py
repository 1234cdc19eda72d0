"""Rules as data: loading rule packs and policies, and compiling a policy into runnable checks."""

from guardrails.rules.compile import CompiledPolicy, CompiledRule, compile_policy
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import RuleSet, bundled_rules_dir, load_ruleset
from guardrails.rules.model import Policy, Rule, RulePack, Status

__all__ = [
    "CompiledPolicy",
    "CompiledRule",
    "Policy",
    "Rule",
    "RuleError",
    "RulePack",
    "RuleSet",
    "Status",
    "bundled_rules_dir",
    "compile_policy",
    "load_ruleset",
]
