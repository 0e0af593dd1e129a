"""The run's summary in the terminal (rich tables), from `Summary.figures()`."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text


def pct(value: float | None) -> str:
    """A rate 0..1 as a percentage with one decimal, or a dash when undefined."""
    return "-" if value is None else f"{value * 100:.1f} %"


def money(minor: int) -> str:
    """Minor units as major units with two decimals (every simulated currency has two)."""
    return f"{minor / 100:,.2f}"


class _Titled:
    """A table and its heading, printed on its own line so narrow terminals never wrap it."""

    def __init__(self, title: str, table: Table) -> None:
        self.title, self.table = title, table


def _table(title: str, *columns: str) -> _Titled:
    table = Table(show_edge=False, pad_edge=False, show_header=any(columns))
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return _Titled(title, table)


def render(figures: dict[str, Any], seconds: float) -> Group:
    """Every table of the summary, ready for `Console.print`."""
    f = figures
    tables = [
        _head(f, seconds),
        _buckets(f),
        _rolls(f),
        _contacts(f),
        _suppressions(f),
        _deals(f),
        _outcomes(f),
        _arms(f),
    ]
    if f.get("agencies"):
        tables.append(_agencies(f))
    parts: list[Text | Table] = []
    for titled in tables:
        parts.extend([Text(""), Text(titled.title, style="bold"), titled.table])
    return Group(*parts)


def _head(f: dict[str, Any], seconds: float) -> _Titled:
    as_of = f.get("as_of") or {}
    period = f" ({as_of['first_business_date']} to {as_of['business_date']})" if as_of.get("business_date") else ""
    head = _table(f"Run: {f['accounts']} accounts, {f['days']} business days{period}, {seconds:.1f} s", "", "")
    head.table.add_row("inbound events fed", f"{f['events']['inbound']:,}")
    head.table.add_row("events published", f"{f['events']['published']:,}")
    head.table.add_row("rejected", f"{sum(f['rejected'].values()):,}")
    head.table.add_row("charged off", f"{f['charged_off']:,}")
    return head


def _buckets(f: dict[str, Any]) -> _Titled:
    buckets = _table("Accounts per bucket (end of run)", "bucket", "accounts")
    for name, count in f["buckets"].items():
        buckets.table.add_row(name, f"{count:,}")
    return buckets


def _rolls(f: dict[str, Any]) -> _Titled:
    rolls = _table("Roll rates (month end to month end)", "from", "accounts", "roll forward", "cure")
    for row in f["roll_rates"]:
        rolls.table.add_row(row["from"], f"{row['accounts']:,}", pct(row["roll_forward"]), pct(row["cure"]))
    return rolls


def _contacts(f: dict[str, Any]) -> _Titled:
    contacts = _table("Contacts by channel and outcome", "channel", "requested", "outcomes")
    for channel in sorted(set(f["contacts_requested"]) | set(f["contact_outcomes"])):
        outcomes = ", ".join(f"{o} {n:,}" for o, n in f["contact_outcomes"].get(channel, {}).items())
        contacts.table.add_row(channel, f"{f['contacts_requested'].get(channel, 0):,}", outcomes)
    return contacts


def _suppressions(f: dict[str, Any]) -> _Titled:
    suppressions = _table("Suppressions by reason", "reason", "steps")
    for reason, count in f["suppressions"].items():
        suppressions.table.add_row(reason, f"{count:,}")
    return suppressions


def _deals(f: dict[str, Any]) -> _Titled:
    deals = _table("Promises, arrangements, cases", "", "made / opened", "kept / closed", "broken")
    p = f["promises"]
    deals.table.add_row("promises to pay", f"{p['recorded']:,}", f"{p['kept']:,}", f"{p['broken']:,}")
    for kind in ("plan", "settlement"):
        a = f["arrangements"][kind]
        deals.table.add_row(f"{kind}s", f"{a['made']:,}", f"{a['completed']:,}", f"{a['broken']:,}")
    c = f["cases"]
    closed = ", ".join(f"{r} {n}" for r, n in c["closed_by_reason"].items())
    deals.table.add_row("legal cases", f"{c['opened']:,}", f"{c['closed']:,}" + (f" ({closed})" if closed else ""), "")
    return deals


def _outcomes(f: dict[str, Any]) -> _Titled:
    other = _table("Outcomes", "", "")
    for currency, minor in f["forgiven_minor"].items():
        other.table.add_row(f"forgiven by settlements ({currency})", money(minor))
    for reason, count in f["arrangements_declined"].items():
        other.table.add_row(f"arrangements declined: {reason}", f"{count:,}")
    cure = f["cure"]
    other.table.add_row(f"cure rate with a plan ({cure['with_plan_accounts']} accounts)", pct(cure["with_plan"]))
    other.table.add_row(f"cure rate without ({cure['without_plan_accounts']} accounts)", pct(cure["without_plan"]))
    for kind, count in f["rejected"].items():
        other.table.add_row(f"rejected: {kind}", f"{count:,}")
    return other


def _agencies(f: dict[str, Any]) -> _Titled:
    agencies = _table("Agencies", "agency", "open", "recalled", "collected", "commission", "breaches")
    for agency, a in f.get("agencies", {}).items():
        recalled = ", ".join(f"{r} {n}" for r, n in a["recalled_by_reason"].items())
        agencies.table.add_row(
            agency,
            f"{a['open']:,}",
            f"{sum(a['recalled_by_reason'].values()):,}" + (f" ({recalled})" if recalled else ""),
            ", ".join(f"{c} {money(m)}" for c, m in a["collected_minor"].items()) or "0",
            ", ".join(f"{c} {money(m)}" for c, m in a["commission_minor"].items()) or "0",
            ", ".join(f"{r} {n}" for r, n in a["breaches_by_rule"].items()) or "none",
        )
    return agencies


def _arms(f: dict[str, Any]) -> _Titled:
    arms = _table(
        "Experiment arms (champion/challenger)", "arm", "accounts treated", "requests", "promises", "current at end"
    )
    for arm, a in f.get("arms", {}).items():
        requests = ", ".join(f"{c} {n:,}" for c, n in a["contacts_requested"].items())
        arms.table.add_row(
            arm, f"{a['accounts_treated']:,}", requests, f"{a['promises_recorded']:,}", pct(a["current_at_end"])
        )
    return arms


def print_summary(figures: dict[str, Any], seconds: float, console: Console | None = None) -> None:
    """Print the summary to the terminal."""
    (console or Console()).print(render(figures, seconds))
