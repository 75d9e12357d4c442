"""The input data contract (docs/contract.md) as data: tables, columns, types and rules.

Every rule is one `Rule`: the table and column it is reported under, its name as shown to the
user, and a SQL predicate that is TRUE for a row that breaks it. Predicates name other tables as
`{table}` placeholders (filled with the staging tables by the checker) and only ever use the
identifiers written here, never names taken from data. Adding a rule is adding one line to
`RULES`. Type rules ('type: date YYYY-MM-DD', ...) and 'column present' follow from the column
specs and are not listed.

Reading of the contract: a column that has a rule and is not marked nullable must not be null
(checked as its own 'not null' rule, so the other rules look at non-null values only); columns
without any rule (names, free text) may be null. A boolean is written true or false (any case);
other spellings (yes/no, 1/0, t/f) are type errors, so a typo cannot silently mean true.

The segment names and deal sources are defined here once; the settings and the sample data
import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# the default expansion segments (config/plan.yaml); a plan's settings may name others, spelled like this
SegmentName = Literal["high_velocity", "mid_market", "enterprise"]
SEGMENT_NAMES: tuple[str, ...] = get_args(SegmentName)
SEGMENT_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
# how an opportunity came about (opportunities.source), the keys of the credit rules
DEAL_SOURCES = ("csm_sourced", "ae_sourced", "joint", "csm_closed", "add_on")

# Upper bounds of the numeric columns (docs/contract.md, "Bounds"): a value at or above one is a unit
# or typing mistake, not data (an id or an amount in the wrong column, cents read as units).
# Money: the plan keeps unit prices and peer benchmarks as DECIMAL(18, 6), which holds amounts
# below 10^12; that is also far above any real yearly contract line in dollars or euros.
MAX_MONEY = 1e12
MAX_EMPLOYEES = 10_000_000  # the largest employers in the world have about 3 million
MAX_UNITS = 100_000_000  # seats of one line, active users of one day: ten times MAX_EMPLOYEES
MAX_EVENTS = 1e12  # events of one account and product in a day or week: over 10 million a second

SQL_TYPES = ("VARCHAR", "BIGINT", "DOUBLE", "DATE", "BOOLEAN")

TYPE_LABELS = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "DOUBLE": "float",
    "DATE": "date YYYY-MM-DD",
    "BOOLEAN": "boolean true/false",
}


@dataclass(frozen=True)
class Column:
    """One contract column; `default` is a SQL literal used when the column is absent or null."""

    name: str
    type: str
    default: str | None = None

    def __post_init__(self) -> None:
        if self.type not in SQL_TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type}")


@dataclass(frozen=True)
class TableSpec:
    """One contract table; `key` identifies a row in messages and orders the loaded table."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # loaded sorted by key; the large usage table keeps file order (it is only aggregated,
    # and sorting 100M rows would double its load time)
    ordered_load: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The spec of column `name`."""
        return next(c for c in self.columns if c.name == name)

    def key_sql(self) -> str:
        """SQL text of the example key of a row: key columns joined by ' / ', null shown as NULL."""
        parts = ", ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), 'NULL')" for c in self.key)
        return f"concat_ws(' / ', {parts})"


@dataclass(frozen=True)
class Rule:
    """A contract rule: `bad` is a SQL predicate over one row of `table` that is TRUE when the
    row breaks the rule. `reads` lists the other `table.column`s the predicate uses (the rule is
    skipped when one of them is missing, that is reported on its own). `example` is the SQL of
    the example key shown for a bad row (default: the table's key)."""

    table: str
    column: str
    name: str
    bad: str
    reads: tuple[str, ...] = ()
    example: str | None = None


def _c(name: str, type_: str = "VARCHAR", default: str | None = None) -> Column:
    return Column(name, type_, default)


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "accounts",
            (
                _c("account_id"), _c("account_name"), _c("industry"), _c("region"),
                _c("employees", "BIGINT"), _c("customer_since", "DATE"), _c("renewal_date", "DATE"),
                _c("csm_id"), _c("owner_id"),
                # kept with its owner through every rebalance (besides territory.locked_accounts)
                _c("locked", "BOOLEAN", default="false"),
            ),
            key=("account_id",),
        ),
        TableSpec(
            "products",
            (
                _c("product_id"), _c("product_name"), _c("list_price", "DOUBLE"), _c("unit"),
                _c("family"), _c("tier_rank", "BIGINT"),
            ),
            key=("product_id",),
        ),
        TableSpec(
            "subscriptions",
            (
                _c("account_id"), _c("product_id"), _c("quantity", "BIGINT"), _c("arr", "DOUBLE"),
                _c("start_date", "DATE"), _c("end_date", "DATE"),
            ),
            key=("account_id", "product_id", "start_date"),
        ),
        TableSpec(
            "usage",
            (
                _c("account_id"), _c("product_id"), _c("date", "DATE"),
                _c("active_users", "BIGINT"), _c("events", "BIGINT"),
            ),
            key=("account_id", "product_id", "date"),
            ordered_load=False,
        ),
        TableSpec(
            "opportunities",
            (
                _c("opportunity_id"), _c("account_id"), _c("product_id"), _c("type"),
                _c("created_date", "DATE"), _c("close_date", "DATE"), _c("stage"),
                _c("amount", "DOUBLE"), _c("source"), _c("owner_id"), _c("csm_id"),
                # optional, for pipeline coverage: the CRM's expected close date and own stage of an open deal
                _c("expected_close_date", "DATE", default="NULL"), _c("pipeline_stage", default="NULL"),
                # optional: the units (seats) the deal's product line sells; a source mapping's won_deals keep them
                _c("quantity", "BIGINT", default="NULL"),
            ),
            key=("opportunity_id",),
        ),
        TableSpec(
            "reps",
            (
                _c("rep_id"), _c("name"), _c("role"), _c("segment"),
                _c("capacity", "DOUBLE", default="1.0"), _c("active", "BOOLEAN", default="true"),
                # optional, for capacity with ramp: first day on the team, departure (exclusive), one leave
                _c("start_date", "DATE", default="NULL"), _c("end_date", "DATE", default="NULL"),
                _c("leave_start", "DATE", default="NULL"), _c("leave_end", "DATE", default="NULL"),
                # optional: the rep's manager, who signs off the rep's quota in review (review.sign_off)
                _c("manager_id", default="NULL"),
            ),
            key=("rep_id",),
        ),
    )
}

REQUIRED_TABLES = ("accounts", "products", "subscriptions", "opportunities", "reps")


def not_null(table: str, column: str, example: str | None = None) -> Rule:
    """The column has a value in every row."""
    return Rule(table, column, "not null", f'"{column}" IS NULL', example=example)


def unique(table: str, column: str) -> Rule:
    """No value appears twice (every row holding a repeated value counts)."""
    dupes = f'SELECT "{column}" FROM {{{table}}} GROUP BY ALL HAVING count(*) > 1'
    return Rule(table, column, "unique", f'"{column}" IN ({dupes})')


def one_of(table: str, column: str, *values: str) -> Rule:
    """A non-null value is one of `values` (contract constants, no quotes inside)."""
    listed = ", ".join(f"'{v}'" for v in values)
    return Rule(table, column, f"one of {', '.join(values)}", f'"{column}" NOT IN ({listed})')


def segment_rule(names: tuple[str, ...]) -> Rule:
    """reps.segment is one of the plan's segments (names checked against SEGMENT_NAME_PATTERN by the settings)."""
    return one_of("reps", "segment", *names)


def references(table: str, column: str, target: str, role: str | None = None) -> Rule:
    """A non-null value exists in `target` ('table.column'), optionally among reps of `role`.
    The examples are the distinct values not found (rows of one orphan id would crowd them)."""
    ref_table, ref_column = target.split(".")
    where = f'"{ref_column}" IS NOT NULL' + (f" AND role = '{role}'" if role else "")
    name = f"exists in {target}" + (f" with role {role}" if role else "")
    reads = (target, f"{ref_table}.role") if role else (target,)
    # IS NOT NULL first: `NULL NOT IN (<empty set>)` is TRUE, a null would break the rule
    # whenever the target has no row (e.g. no reps with role csm)
    bad = f'"{column}" IS NOT NULL AND "{column}" NOT IN (SELECT "{ref_column}" FROM {{{ref_table}}} WHERE {where})'
    return Rule(table, column, name, bad, reads=reads, example=f'"{column}"')


def below(table: str, column: str, limit: float) -> Rule:
    """A non-null value is below `limit`, one of the contract's upper bounds."""
    return Rule(table, column, f"< {limit:,.0f}", f'"{column}" >= {limit:.0f}')


def sum_below(table: str, column: str, by: tuple[str, ...], limit: float) -> Rule:
    """The values of the rows sharing `by` sum to less than `limit`; every row of such a group
    counts. Groups holding a value that is itself over the limit are left to `below`."""
    group = ", ".join(f'"{c}"' for c in by)
    over = (f'SELECT {group} FROM {{{table}}} GROUP BY {group} '
            f'HAVING sum("{column}") >= {limit:.0f} AND max("{column}") < {limit:.0f}')
    name = f"sum per {' and '.join(by)} < {limit:,.0f}"
    return Rule(table, column, name, f"({group}) IN ({over})", reads=tuple(f"{table}.{c}" for c in by),
                example=f"concat_ws(' / ', {group})")


def row_rule(table: str, column: str, name: str, bad: str, *others: str) -> Rule:
    """Any other row-level rule; `others` are further columns of the same table it reads."""
    return Rule(table, column, name, bad, reads=tuple(f"{table}.{o}" for o in others))


RULES: tuple[Rule, ...] = (
    not_null("accounts", "account_id", example="coalesce(account_name, 'NULL')"),
    unique("accounts", "account_id"),
    row_rule("accounts", "employees", ">= 0", "employees < 0"),
    below("accounts", "employees", MAX_EMPLOYEES),
    references("accounts", "csm_id", "reps.rep_id", role="csm"),
    references("accounts", "owner_id", "reps.rep_id", role="expansion_rep"),
    not_null("products", "product_id", example="coalesce(product_name, 'NULL')"),
    unique("products", "product_id"),
    not_null("products", "list_price"),
    row_rule("products", "list_price", "> 0", "list_price <= 0"),
    below("products", "list_price", MAX_MONEY),
    not_null("products", "unit"),
    one_of("products", "unit", "seat", "flat"),
    not_null("subscriptions", "account_id"),
    references("subscriptions", "account_id", "accounts.account_id"),
    not_null("subscriptions", "product_id"),
    references("subscriptions", "product_id", "products.product_id"),
    not_null("subscriptions", "quantity"),
    row_rule("subscriptions", "quantity", "> 0", "quantity <= 0"),
    below("subscriptions", "quantity", MAX_UNITS),
    not_null("subscriptions", "arr"),
    row_rule("subscriptions", "arr", ">= 0", "arr < 0"),
    below("subscriptions", "arr", MAX_MONEY),
    # an account's lines of one product are summed (its holding) and compared with its peers'
    sum_below("subscriptions", "arr", ("account_id", "product_id"), MAX_MONEY),
    not_null("subscriptions", "start_date"),
    row_rule("subscriptions", "end_date", "> start_date", "end_date <= start_date", "start_date"),
    not_null("usage", "account_id"),
    references("usage", "account_id", "accounts.account_id"),
    not_null("usage", "date"),
    not_null("usage", "active_users"),
    row_rule("usage", "active_users", ">= 0", "active_users < 0"),
    below("usage", "active_users", MAX_UNITS),
    not_null("usage", "events"),
    row_rule("usage", "events", ">= 0", "events < 0"),
    below("usage", "events", MAX_EVENTS),
    not_null("opportunities", "opportunity_id", example="concat_ws(' / ', account_id, created_date)"),
    unique("opportunities", "opportunity_id"),
    not_null("opportunities", "account_id"),
    references("opportunities", "account_id", "accounts.account_id"),
    references("opportunities", "product_id", "products.product_id"),
    not_null("opportunities", "type"),
    one_of("opportunities", "type", "expansion", "renewal", "new_logo"),
    not_null("opportunities", "created_date"),
    row_rule("opportunities", "close_date", ">= created_date", "close_date < created_date", "created_date"),
    row_rule("opportunities", "close_date", "null while open", "stage = 'open' AND close_date IS NOT NULL", "stage"),
    row_rule(
        "opportunities", "close_date", "set when won or lost",
        "stage IN ('won', 'lost') AND close_date IS NULL", "stage",
    ),
    not_null("opportunities", "stage"),
    one_of("opportunities", "stage", "open", "won", "lost"),
    not_null("opportunities", "amount"),
    row_rule("opportunities", "amount", ">= 0", "amount < 0"),
    below("opportunities", "amount", MAX_MONEY),
    one_of("opportunities", "source", *DEAL_SOURCES),
    row_rule("opportunities", "quantity", "> 0", "quantity <= 0"),
    not_null("reps", "rep_id", example="coalesce(name, 'NULL')"),
    unique("reps", "rep_id"),
    not_null("reps", "role"),
    one_of("reps", "role", "expansion_rep", "csm"),
    one_of("reps", "segment", *SEGMENT_NAMES),  # the plan's own segments replace these (segment_rule)
    row_rule("reps", "capacity", "0 < x <= 1", "capacity <= 0 OR capacity > 1"),
    row_rule("reps", "end_date", "> start_date", "end_date <= start_date"),
    row_rule("reps", "leave_end", "> leave_start", "leave_end <= leave_start"),
    row_rule("reps", "leave_end", "given with leave_start", "(leave_start IS NULL) <> (leave_end IS NULL)"),
)
# (table, column) of every key column the rules make unique and not null: a loaded table with such a
# one-column key is in one order when sorted by that column alone
UNIQUE_KEYS = frozenset((r.table, r.column) for r in RULES if r.name == "unique") & frozenset(
    (r.table, r.column) for r in RULES if r.name == "not null")


def load_order(spec: TableSpec) -> tuple[str, ...]:
    """The columns a table is loaded sorted by: its key when the rules make that one column unique
    and not null (a total order), else the key then every other column (rows alike in their key, e.g.
    two subscriptions of one product starting the same day, still come in one order)."""
    if len(spec.key) == 1 and (spec.name, spec.key[0]) in UNIQUE_KEYS:
        return spec.key
    return (*spec.key, *(c for c in spec.column_names if c not in spec.key))
