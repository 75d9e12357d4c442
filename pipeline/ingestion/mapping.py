"""A source mapping: how a CRM or billing export becomes the input contract (mappings/*.yaml).

The mapping file says, per contract table, which source file it comes from (or that it is
derived), how each contract column is filled (a source column, a constant, or an id made from
a name), value maps, the contract rules whose breaking rows are set aside instead of stopping
the run, and the extra source columns to keep. It is validated here (pydantic); applying it
is pipeline/ingestion/map_inputs.py. Values (constants, value maps, prefixes) are always bound as data,
never pasted into SQL; source column names are checked against the file's header there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.core.yaml_model import load_yaml_model
from pipeline.ingestion.contract import RULES, TABLES


class MappingError(ValueError):
    """The mapping file is missing, not YAML, or breaks a rule of the mapping format."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _text(value: Any) -> Any:
    """YAML scalars (numbers, booleans, dates) as the text a CSV cell would hold."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if value is None or isinstance(value, (str, dict, list)) else str(value)


class OnlyIf(_Strict):
    """A condition on another source column: the value is kept only where it holds (else empty):
    the column equals the value (or one of a list), or with not_equals is none of them (an empty cell
    counts as none of them)."""

    column: str
    equals: str | list[str] | None = None
    not_equals: str | list[str] | None = Field(default=None, description="keep where the column is none of these")

    @field_validator("equals", "not_equals", mode="before")
    @classmethod
    def _scalar_text(cls, value: Any) -> Any:
        return [_text(v) for v in value] if isinstance(value, list) else _text(value)

    @model_validator(mode="after")
    def _one_test(self) -> OnlyIf:
        if (self.equals is None) == (self.not_equals is None):
            raise ValueError("give exactly one of equals, not_equals")
        return self

    @property
    def values(self) -> list[str]:
        """The values tested (of equals or of not_equals)."""
        given = self.equals if self.equals is not None else self.not_equals
        return given if isinstance(given, list) else [str(given)]


class ColumnMap(_Strict):
    """How one contract column is filled: exactly one of `column` (a source column), `value`
    (a constant) or `id_from` (an id made from a source column of names: `prefix` + the name in
    lower case with every run of other characters than letters and digits replaced by '-')."""

    column: str | list[str] | None = Field(
        default=None, description="source column (a joined file's as ALIAS.COLUMN; a list: their values joined by a space)"
    )
    value: str | None = Field(default=None, description="constant for every row")
    id_from: str | list[str] | None = Field(
        default=None, description="source column of names to make an id from (a list: their values joined by a space)"
    )
    prefix: str = Field(default="", description="text put before a generated id")
    values: dict[str, str] | None = Field(default=None, description="value map: source value -> contract value")
    other_values: Literal["error", "keep", "empty"] = Field(
        default="error",
        description="values the map does not cover: stop the run (error), keep them as they are, or leave the cell "
        "empty (empty)",
    )
    default: str | None = Field(default=None, description="contract value for values the map does not cover")
    if_null: str | None = Field(default=None, description="value when the source is empty")
    only_if: OnlyIf | None = Field(
        default=None, description="keep the value only where another source column equals a value"
    )
    date_from_timestamp: bool = Field(
        default=False, description="keep the YYYY-MM-DD of an ISO timestamp such as 2024-01-15T10:00:00Z"
    )

    @field_validator("value", "prefix", "default", "if_null", mode="before")
    @classmethod
    def _scalar_text(cls, value: Any) -> Any:
        return _text(value)

    @field_validator("values", mode="before")
    @classmethod
    def _map_text(cls, value: Any) -> Any:
        return {_text(k): _text(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`account_id: account` means `account_id: {column: account}`."""
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> ColumnMap:
        given = [k for k in ("column", "value", "id_from") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of column, value, id_from (got {given or 'none'})")
        if self.values is None and (self.default is not None or self.other_values != "error"):
            raise ValueError("default and other_values need a value map (values)")
        if self.default is not None and self.other_values == "keep":
            raise ValueError("give either default or other_values: keep, not both")
        return self

    @property
    def sources(self) -> list[str]:
        """The source columns read (none for a constant)."""
        given = self.column if self.column is not None else self.id_from
        return [given] if isinstance(given, str) else list(given or [])


class Lookup(_Strict):
    """A second file joined to the table's file, many rows to one: `by` maps a column of the
    table's file (or ALIAS.COLUMN of a lookup listed before it) to the lookup file's key column (the
    key must be unique there). (Not `on`: YAML reads an unquoted `on` as true.)"""

    file: str
    by: dict[str, str] = Field(min_length=1, max_length=1, description="{table file column: lookup key column}")


class SetAside(_Strict):
    """A contract rule whose breaking rows are set aside (kept in rejected_rows and counted in
    the data-quality report) instead of stopping the run. Only 'not null' and 'exists in ...'
    rules can be set aside: they read text as it is, before any type conversion."""

    column: str
    rule: str


class ContractDates(_Strict):
    """Renewal dates from a file of contracts (Salesforce Contract): per account, the latest end date of
    its contracts (of the status given), which the plan rolls forward a year at a time to the next renewal."""

    file: str = Field(description="the contracts file in the input folder (csv or parquet)")
    account: str = Field(description="its column of the account id (the accounts' mapped account_id)")
    end_date: str = Field(description="its column of the contract's end date (a date or an ISO timestamp)")
    only_if: OnlyIf | None = Field(default=None, description="contracts counted: a column equals a value or list")


class RenewalDates(_Strict):
    """How accounts.renewal_date is filled where the accounts file has none, in this order: from contracts,
    then from the mapped renewal opportunities (the earliest open renewal's close date, else the latest won
    renewal's, which the plan rolls forward a year at a time)."""

    contracts: ContractDates | None = None
    renewal_opportunities: bool = Field(default=False, description="use the opportunities of type renewal")


class TableMap(_Strict):
    """One contract table: from a source `file` with its `columns`, or `derive`d from another
    contract table (subscriptions from won opportunities)."""

    file: str | None = Field(default=None, description="source file in the input folder (csv or parquet)")
    lookups: dict[str, Lookup] = Field(default_factory=dict, description="files joined by key, named by alias")
    columns: dict[str, ColumnMap] = Field(default_factory=dict)
    keep: list[str] = Field(default_factory=list, description="extra source columns kept as they are")
    set_aside: list[SetAside] = Field(default_factory=list)
    derive: Literal["won_deals"] | None = Field(default=None, description="won_deals: subscriptions from won deals")
    window_months: int = Field(default=12, gt=0, description="won_deals: months a won deal counts as held")
    renewal_dates: RenewalDates | None = Field(
        default=None, description="accounts: renewal dates from contracts or renewal opportunities"
    )

    @model_validator(mode="after")
    def _file_or_derived(self) -> TableMap:
        if (self.file is None) == (self.derive is None):
            raise ValueError("give either file (with columns) or derive")
        if self.derive and (self.columns or self.lookups or self.keep or self.renewal_dates):
            raise ValueError("a derived table takes no columns, lookups, keep or renewal_dates")
        return self


class SourceMapping(_Strict):
    """A whole mapping file."""

    source: str = Field(description="what this mapping reads, in words")
    tables: dict[str, TableMap]

    @model_validator(mode="after")
    def _contract_names(self) -> SourceMapping:
        problems = []
        for name, table in self.tables.items():
            if name not in TABLES:
                problems.append(f"tables.{name}: not a contract table (one of {', '.join(TABLES)})")
                continue
            spec = TABLES[name]
            problems += [
                f"tables.{name}.columns.{c}: not a column of {name} (one of {', '.join(spec.column_names)})"
                for c in table.columns
                if c not in spec.column_names
            ]
            problems += [
                f"tables.{name}.keep: {k} is a contract column of {name}: map it under columns"
                for k in table.keep
                if k in spec.column_names
            ]
            for aside in table.set_aside:
                if not any(r.table == name and r.column == aside.column and r.name == aside.rule for r in RULES):
                    problems.append(
                        f"tables.{name}.set_aside: no contract rule '{aside.rule}' on column {aside.column}"
                    )
                elif not (aside.rule == "not null" or aside.rule.startswith("exists in")):
                    problems.append(f"tables.{name}.set_aside: rule '{aside.rule}' cannot be set aside")
        for name, table in self.tables.items():
            if table.renewal_dates and name != "accounts":
                problems.append(f"tables.{name}: renewal_dates fill accounts only")
            elif table.renewal_dates and table.renewal_dates.renewal_opportunities and "opportunities" not in self.tables:
                problems.append(f"tables.{name}: renewal_dates from renewal_opportunities needs tables.opportunities")
            if table.derive == "won_deals" and name != "subscriptions":
                problems.append(f"tables.{name}: derive won_deals makes subscriptions only")
            elif table.derive == "won_deals" and "opportunities" not in self.tables:
                problems.append(f"tables.{name}: derive won_deals needs tables.opportunities")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_mapping(path: str | Path) -> SourceMapping:
    """Read and validate a mapping YAML file."""
    return load_yaml_model(Path(path), SourceMapping, MappingError, "mapping")
