"""The platform's one YAML configuration file (contract.md, Configuration; defaults: behaviour.md).

Validated at start: an unknown key or a bad value raises ConfigError naming the key's path
(`outreach.call_cap.days`). A file may set only some keys; the rest keep their defaults.
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from collections_events.fields import MinorUnits
from collections_events.inbound import Channel
from collections_events.registry import DEFAULT_TOPICS

MAX_DAYS = 36_500
"""The largest `*_dpd` or `*_days` (100 years): beyond it, date arithmetic would leave the calendar."""
MAX_COUNT = 1_000_000
"""The largest count (`call_cap.calls`, `min_contact_attempts`, `max_installments`)."""

Days = Annotated[int, Field(strict=True, ge=0, le=MAX_DAYS)]
DaysAtLeastOne = Annotated[int, Field(strict=True, ge=1, le=MAX_DAYS)]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Percent = Annotated[int, Field(strict=True, ge=0, le=100)]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key's path and the reason."""


class Section(BaseModel):
    """A config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerConfig(Section):
    """`ledger.*`: a due counts as paid when at most `tolerance_minor` of it is unpaid."""

    tolerance_minor: MinorUnits = 0


class Bucket(Section):
    """One delinquency bucket: accounts with `dpd >= from_dpd` up to the next bucket's start."""

    name: str = Field(min_length=1)
    from_dpd: Days


US_BUCKETS = (
    Bucket(name="current", from_dpd=0),
    Bucket(name="1-29", from_dpd=1),
    Bucket(name="30-59", from_dpd=30),
    Bucket(name="60-89", from_dpd=60),
    Bucket(name="90-119", from_dpd=90),
    Bucket(name="120-149", from_dpd=120),
    Bucket(name="150-179", from_dpd=150),
    Bucket(name="180+", from_dpd=180),
)
"""The US convention (behaviour.md, Delinquency)."""

CN_BUCKETS = (
    Bucket(name="M0", from_dpd=0),
    Bucket(name="M1", from_dpd=1),
    Bucket(name="M2", from_dpd=31),
    Bucket(name="M3", from_dpd=61),
    Bucket(name="M4", from_dpd=91),
    Bucket(name="M5", from_dpd=121),
    Bucket(name="M6", from_dpd=151),
    Bucket(name="M6+", from_dpd=181),
)
"""The Chinese M0..M6+ convention (behaviour.md, Delinquency)."""

BUCKET_PRESETS = {"us": US_BUCKETS, "cn": CN_BUCKETS}


class DelinquencyConfig(Section):
    """`delinquency.*`: `buckets` is a preset name (`us`, `cn`) or a list of `{name, from_dpd}`."""

    buckets: Literal["us", "cn"] | list[Bucket] = "us"
    charge_off_dpd: DaysAtLeastOne = 180

    @field_validator("buckets")
    @classmethod
    def _increasing(cls, value: str | list[Bucket]) -> str | list[Bucket]:
        if isinstance(value, list):
            if not value:
                raise ValueError("a bucket list needs at least one bucket")
            if value[0].from_dpd != 0:
                raise ValueError("the first bucket must start at from_dpd 0")
            starts = [b.from_dpd for b in value]
            if any(b <= a for a, b in itertools.pairwise(starts)):
                raise ValueError("from_dpd must strictly increase")
            if len({b.name for b in value}) != len(value):
                raise ValueError("bucket names must be unique")
        return value

    @property
    def bucket_list(self) -> tuple[Bucket, ...]:
        """The buckets in force, lowest first."""
        return BUCKET_PRESETS[self.buckets] if isinstance(self.buckets, str) else tuple(self.buckets)


class Window(Section):
    """`outreach.window`: local wall-clock times `HH:MM`, start before end."""

    start: str = "08:00"
    end: str = "21:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValueError("must be a time written HH:MM")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class Step(Section):
    """One strategy step (behaviour.md, Outreach): fires in an episode while from_dpd <= dpd <= to_dpd."""

    id: str = Field(min_length=1)
    channel: Channel
    template: str = Field(min_length=1)
    from_dpd: Days
    to_dpd: Days | None = None
    every_days: Days | None = None

    @model_validator(mode="after")
    def _range(self) -> Step:
        if self.to_dpd is not None and self.from_dpd > self.to_dpd:
            raise ValueError("from_dpd must not exceed to_dpd")
        return self


DEFAULT_STRATEGY = (
    Step(id="sms-reminder", channel="sms", template="reminder", from_dpd=1),
    Step(id="push-reminder", channel="push", template="reminder", from_dpd=1),
    Step(id="email-reminder", channel="email", template="reminder_2", from_dpd=5),
    Step(id="calls", channel="call", template="collection_call", from_dpd=10, to_dpd=89, every_days=1),
    Step(id="letter-30", channel="letter", template="notice_30", from_dpd=30),
    Step(id="letter-60", channel="letter", template="pre_legal_notice", from_dpd=60),
)
"""The strategy that ships (behaviour.md, Outreach)."""


class CallCap(Section):
    """`outreach.call_cap`: at most `calls` call requests whose windows fall in any `days` consecutive days."""

    calls: Count = 7
    days: DaysAtLeastOne = 7


class ArrangementRules(Section):
    """`outreach.arrangements` (behaviour.md, Arrangements)."""

    max_installments: Count = 12
    max_days: Days = 365
    grace_days: Days = 5
    settlement_floor_pct: Percent = 50


def _unique_step_ids(value: list[Step]) -> list[Step]:
    ids = [s.id for s in value]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"step ids must be unique (repeated: {', '.join(duplicates)})")
    return value


CHAMPION = "champion"
"""The arm of every account no experiment takes: the configured `outreach.strategy`."""


class Experiment(Section):
    """One challenger (behaviour.md, Strategy experiments): `share_pct` of the accounts run `strategy`."""

    id: str = Field(min_length=1)
    share_pct: Percent
    strategy: list[Step]

    @field_validator("id")
    @classmethod
    def _not_champion(cls, value: str) -> str:
        if value == CHAMPION:
            raise ValueError("`champion` is the configured outreach.strategy; name the challenger otherwise")
        return value

    @field_validator("strategy")
    @classmethod
    def _unique_ids(cls, value: list[Step]) -> list[Step]:
        return _unique_step_ids(value)


class OutreachConfig(Section):
    """`outreach.*`."""

    window: Window = Window()
    strategy: list[Step] = Field(default_factory=lambda: list(DEFAULT_STRATEGY))
    call_cap: CallCap = CallCap()
    rpc_cooldown_days: Days = 7
    arrangements: ArrangementRules = ArrangementRules()
    experiments: list[Experiment] = Field(default_factory=list)

    @field_validator("strategy")
    @classmethod
    def _unique_ids(cls, value: list[Step]) -> list[Step]:
        return _unique_step_ids(value)

    @field_validator("experiments")
    @classmethod
    def _experiments(cls, value: list[Experiment]) -> list[Experiment]:
        ids = [e.id for e in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"experiment ids must be unique (repeated: {', '.join(duplicates)})")
        total = sum(e.share_pct for e in value)
        if total > 100:
            raise ValueError(f"share_pct must sum to at most 100 (they sum to {total})")
        return value


def _number(value: Any) -> Decimal:
    # A percentage may be written 30 or 33.5 (behaviour.md, Agencies); it is kept exact as a
    # Decimal of the number as written, so that shares sum to exactly 100. Booleans and strings
    # are not numbers here.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(100):
        raise ValueError("must be a number from 0 to 100")
    return number


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


Percentage = Annotated[Decimal, BeforeValidator(_number), PlainSerializer(_plain_number, when_used="json")]
"""A percentage from 0 to 100, decimals allowed, kept exact (`legal.placement.agencies`)."""


class Agency(Section):
    """One collection agency (`legal.placement.agencies[]`): its share of placements (percent of the
    placement hash's range) and its commission on what it collects (percent)."""

    id: str = Field(min_length=1, max_length=200)
    share_pct: Percentage
    commission_pct: Percentage


class PlacementConfig(Section):
    """`legal.placement`: agencies (default none: placement off), placement at `dpd >= from_dpd`,
    recall after `days` (behaviour.md, Agencies)."""

    agencies: list[Agency] = Field(default_factory=list)
    from_dpd: Days = 120
    days: DaysAtLeastOne = 90

    @field_validator("agencies")
    @classmethod
    def _unique_and_whole(cls, value: list[Agency]) -> list[Agency]:
        ids = [a.id for a in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"agency ids must be unique (repeated: {', '.join(duplicates)})")
        total = sum((a.share_pct for a in value), Decimal(0))
        if value and total != 100:
            raise ValueError(f"share_pct must sum to 100 (they sum to {total.normalize():f})")
        return value


class LegalConfig(Section):
    """`legal.*`: refer at `dpd >= referral_dpd` with at least `min_contact_attempts` requests and
    `past_due_minor >= min_past_due_minor`; `placement` hands accounts to agencies."""

    referral_dpd: DaysAtLeastOne = 90
    min_contact_attempts: Count = 3
    min_past_due_minor: MinorUnits = 0
    placement: PlacementConfig = PlacementConfig()


_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,245}")


def _topic_name(value: str) -> str:
    if not _TOPIC_NAME.fullmatch(value):
        raise ValueError("must be a Kafka topic name: 1 to 245 letters, digits, '.', '_' or '-'")
    return value


TopicName = Annotated[str, AfterValidator(_topic_name)]
"""A Kafka topic name: letters, digits, `.`, `_`, `-`, at most 249 characters in Kafka, 245 here so
that its dead-letter topic (`<name>.dlq`) is one too. An empty or spaced name passed before and
failed only when the broker was asked for it."""


class TopicsConfig(Section):
    """`topics.<key>`: the Kafka topic of each topic key; every key its own topic."""

    accounts: TopicName = DEFAULT_TOPICS["accounts"]
    billing: TopicName = DEFAULT_TOPICS["billing"]
    payments: TopicName = DEFAULT_TOPICS["payments"]
    clock: TopicName = DEFAULT_TOPICS["clock"]
    results: TopicName = DEFAULT_TOPICS["results"]
    ledger: TopicName = DEFAULT_TOPICS["ledger"]
    delinquency: TopicName = DEFAULT_TOPICS["delinquency"]
    outreach: TopicName = DEFAULT_TOPICS["outreach"]
    legal: TopicName = DEFAULT_TOPICS["legal"]
    rejected: TopicName = DEFAULT_TOPICS["rejected"]

    @model_validator(mode="after")
    def _distinct(self) -> TopicsConfig:
        # Two keys on one topic would make every event of one look like a wrong-topic event of the other.
        names = self.model_dump()
        shared = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
        if shared:
            raise ValueError(f"each topic key needs its own topic; shared: {', '.join(shared)}")
        return self

    def name(self, key: str) -> str:
        """The topic name of topic key `key`. Raises AttributeError for an unknown key."""
        value: str = getattr(self, key)
        return value


class PlatformConfig(Section):
    """The whole configuration file; every section optional."""

    ledger: LedgerConfig = LedgerConfig()
    delinquency: DelinquencyConfig = DelinquencyConfig()
    outreach: OutreachConfig = OutreachConfig()
    legal: LegalConfig = LegalConfig()
    topics: TopicsConfig = TopicsConfig()


def parse_config(raw: Any) -> PlatformConfig:
    """Validate an already-parsed YAML document. Raises ConfigError naming the first bad key's path."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("config: the file must hold a mapping of sections")
    try:
        return PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        # For a union (a preset name or a list) the deepest error is the one the writer meant.
        errors = exc.errors(include_url=False)
        first = max(errors, key=lambda e: len([p for p in e["loc"] if not _is_union_tag(p)]))
        path = ".".join(str(p) for p in first["loc"] if not _is_union_tag(p))
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        raise ConfigError(f"config: {path}: {message}") from None


def _is_union_tag(part: Any) -> bool:
    # pydantic names the union member it tried (e.g. `list[Bucket]`); that is not part of the key path.
    return isinstance(part, str) and ("[" in part or part.startswith("literal"))


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader without YAML 1.1's base-60 numbers, so `end: 21:00` written unquoted is
    the string "21:00" (YAML 1.2), not the integer 1260."""


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ConfigLoader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
ConfigLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load_config(path: str | Path | None) -> PlatformConfig:
    """Read and validate the YAML file at `path` (defaults when `path` is None).

    Raises ConfigError when the file is missing, is not YAML, or holds a bad key or value.
    """
    if path is None:
        return PlatformConfig()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config: cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config: {file} is not UTF-8 text (byte {exc.start})") from None
    try:
        raw = yaml.load(text, Loader=ConfigLoader)  # a SafeLoader subclass
        return parse_config(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {file} is not valid YAML: {exc}".splitlines()[0]) from None
    except RecursionError:  # YAML nested thousands deep: no configuration is
        raise ConfigError(f"config: {file} is nested too deeply to be a configuration") from None
