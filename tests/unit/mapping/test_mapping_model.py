"""The mapping format: loading, helpers and every static validation error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from mapping_samples import BASIC

from replicator.errors import ConfigError, TerminalError
from replicator.mapping.model import Mapping, MappingError, OnOrphan, load_mapping

DOC_EXAMPLE = """
version: 1
source_schema: public
target_schema: public
defaults:
  on_orphan: dead_letter
  park_timeout: 30s
tables:
  - name: users
    source: users
    target: users
    key: [id]
    filter:
      - {column: deleted, op: ne, value: true}
    columns:
      id: id
      email: {from: email_address}
      status: {from: status_code, transform: int_code_to_enum, args: {codes: {1: active, 2: suspended}}}
      created_at: {from: created, transform: naive_to_timestamptz, args: {tz: America/New_York}}
      full_name: {from: [first_name, last_name], transform: concat_ws, args: {sep: " "}}
      kind: {const: member}
      score: {from: raw, transform: operator.neg}
    drop: [legacy_flag]
  - name: archived_users
    source: archived_users
    target: users
    key: [id]
    columns:
      id: id
      kind: {const: archived}
  - name: agents
    source: users
    target: agents
    key: [id]
    columns:
      id: id
      boss_id: boss
  - name: listings
    source: listings
    target: listings
    key: [id]
    columns:
      id: id
      agent_id: agent
relationships:
  - name: listings_agent
    table: listings
    columns: [agent_id]
    references: agents
    ref_columns: [id]
    on_orphan: set_null
    park_timeout: 10s
  - name: agents_boss
    table: agents
    columns: [boss_id]
    references: agents
    ref_columns: [id]
"""


def problems_of(load: Callable[[str], Mapping], text: str) -> list[str]:
    with pytest.raises(MappingError) as info:
        load(text)
    return [str(p) for p in info.value.problems]


def one_problem(load: Callable[[str], Mapping], text: str) -> str:
    problems = problems_of(load, text)
    assert len(problems) == 1, problems
    return problems[0]


def basic_with(old: str, new: str) -> str:
    assert old in BASIC
    return BASIC.replace(old, new)


# ---------------------------------------------------------------- loading and helpers


def test_doc_example_loads(load: Callable[[str], Mapping]) -> None:
    """The example in docs/mapping-format.md (plus a merge, split and self-reference) is a valid mapping."""
    mapping = load(DOC_EXAMPLE)
    users = mapping.tables[0]
    assert users.columns["id"].sources == ("id",)
    assert users.columns["full_name"].sources == ("first_name", "last_name")
    assert users.columns["kind"].is_const
    assert users.columns["kind"].const == "member"
    assert users.filter[0].value is True


def test_lookup_helpers(load: Callable[[str], Mapping]) -> None:
    """Merges and splits are found by source and target, in file order."""
    mapping = load(DOC_EXAMPLE)
    assert [t.name for t in mapping.mappings_for_source("users")] == ["users", "agents"]
    assert [t.name for t in mapping.mappings_for_target("users")] == ["users", "archived_users"]
    assert [r.name for r in mapping.relationships_for("listings")] == ["listings_agent"]
    assert mapping.mappings_for_source("nothing") == ()


def test_parents_graph_and_cycles(load: Callable[[str], Mapping]) -> None:
    """The parents graph and fk_cycles include self-references."""
    mapping = load(DOC_EXAMPLE)
    assert mapping.parents() == {"users": (), "agents": ("agents",), "listings": ("agents",)}
    cycles = mapping.fk_cycles()
    assert [c.tables for c in cycles] == [("agents",)]
    assert cycles[0].is_self_reference
    assert str(cycles[0]) == "agents → agents (agents_boss)"


def test_multi_table_cycle_listed_once(load: Callable[[str], Mapping]) -> None:
    """A two-table cycle is reported once, starting at its smallest table."""
    mapping = load(
        """
        version: 1
        tables:
          - {name: a, source: a, target: a, key: [id], columns: {id: id, b_id: b_id}}
          - {name: b, source: b, target: b, key: [id], columns: {id: id, a_id: a_id}}
        relationships:
          - {name: b_a, table: b, columns: [a_id], references: a, ref_columns: [id]}
          - {name: a_b, table: a, columns: [b_id], references: b, ref_columns: [id]}
        """
    )
    assert [str(c) for c in mapping.fk_cycles()] == ["a → b → a (a_b, b_a)"]


def test_relationship_defaults(load: Callable[[str], Mapping]) -> None:
    """A relationship's on_orphan and park_timeout fall back to defaults."""
    mapping = load(DOC_EXAMPLE)
    listings, boss = mapping.relationships
    assert mapping.on_orphan_for(listings) is OnOrphan.SET_NULL
    assert mapping.park_timeout_for(listings) == timedelta(seconds=10)
    assert mapping.on_orphan_for(boss) is OnOrphan.DEAD_LETTER
    assert mapping.park_timeout_for(boss) == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("45", 45), ("1.5s", 1.5), ("7", 7)]
)
def test_park_timeout_parses(load: Callable[[str], Mapping], raw: str, seconds: float) -> None:
    """park_timeout accepts s/m/h suffixes and plain seconds."""
    mapping = load(BASIC + f"defaults: {{park_timeout: {raw}}}\n")
    assert mapping.defaults.park_timeout == timedelta(seconds=seconds)


@pytest.mark.parametrize("raw", ["5x", "-1s", "0", "soon"])
def test_park_timeout_rejects(load: Callable[[str], Mapping], raw: str) -> None:
    """An unparsable or non-positive park_timeout names defaults.park_timeout and the valid forms."""
    problem = one_problem(load, BASIC + f"defaults: {{park_timeout: {raw}}}\n")
    assert problem.startswith("defaults.park_timeout:")
    assert '"30s"' in problem


# ---------------------------------------------------------------- the error itself


def test_error_names_file_and_is_config_error(
    load: Callable[[str], Mapping], write_yaml: Callable[[str], Path]
) -> None:
    """MappingError is a ConfigError (terminal) and its message names the file."""
    path = write_yaml(basic_with("source: users", "source: Users"))
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, TerminalError)
    assert str(path) in str(info.value)
    assert info.value.source == str(path)


def test_every_problem_is_listed(load: Callable[[str], Mapping]) -> None:
    """Independent problems in different places are all reported at once, each with its path."""
    text = basic_with("source: users", "source: Users")
    text = text.replace("transform: int_code_to_enum", "transform: no_such")
    text += (
        "  - {name: users, source: b, target: b, key: [nope], columns: {id: id}}\n"
        "relationships:\n"
        "  - {name: r, table: ghost, columns: [x], references: users, ref_columns: [id], on_orphan: maybe}\n"
    )
    problems = "\n".join(problems_of(load, text))
    for path in (
        "tables[0].source:",
        "tables[0].columns.status.transform:",
        "tables[1].key[0]:",
        "relationships[0].on_orphan:",
    ):
        assert path in problems


def test_invalid_yaml_names_line(load: Callable[[str], Mapping]) -> None:
    """A YAML syntax error names its line."""
    problem = one_problem(load, "version: 1\ntables: [\n  {name: x\n")
    assert "line" in problem
    assert "not valid YAML" in problem


def test_not_a_mapping_document(load: Callable[[str], Mapping]) -> None:
    """A YAML document that is not a mapping is rejected with what is expected."""
    assert "not a YAML mapping" in one_problem(load, "- 1\n- 2\n")


def test_unreadable_file() -> None:
    """A missing file is a MappingError naming it."""
    with pytest.raises(MappingError, match=r"nope\.yaml"):
        load_mapping("/nonexistent/nope.yaml")


# ---------------------------------------------------------------- structural errors


def test_bad_identifier(load: Callable[[str], Mapping]) -> None:
    """An identifier that is not lower-case SQL-safe names its path and the valid pattern."""
    problem = one_problem(load, basic_with("target: users", "target: Users-2"))
    assert problem.startswith("tables[0].target:")
    assert "^[a-z_][a-z0-9_]{0,62}$" in problem


def test_bad_column_name(load: Callable[[str], Mapping]) -> None:
    """A V2 column name (a dict key) is validated as an identifier too."""
    problem = one_problem(load, basic_with("email: {from", '"E mail": {from'))
    assert problem.startswith("tables[0].columns.E mail:")


def test_identifier_with_a_trailing_line_break(load: Callable[[str], Mapping]) -> None:
    """``$`` matches before a final line break: the whole value must match (a quoted YAML "users\\n")."""
    problem = one_problem(load, basic_with("target: users", 'target: "users\\n"'))
    assert problem.startswith("tables[0].target:")


def test_identifier_too_long(load: Callable[[str], Mapping]) -> None:
    """Identifiers longer than 63 characters are rejected."""
    problem = one_problem(load, basic_with("source: users", "source: " + "a" * 64))
    assert problem.startswith("tables[0].source:")


def test_unknown_key_lists_allowed_keys(load: Callable[[str], Mapping]) -> None:
    """An unknown key names its path and lists the allowed keys."""
    problem = one_problem(load, basic_with("    drop:", "    colums: {}\n    drop:"))
    assert problem.startswith("tables[0].colums: unknown key")
    assert "columns" in problem
    assert "drop" in problem


def test_unknown_column_spec_key(load: Callable[[str], Mapping]) -> None:
    """An unknown key inside a column spec lists the column spec keys."""
    problem = one_problem(load, basic_with("{from: email_address}", "{from: email_address, tranform: lower}"))
    assert problem.startswith("tables[0].columns.email.tranform: unknown key")
    assert "from, const, transform, args" in problem


def test_missing_required_key(load: Callable[[str], Mapping]) -> None:
    """A missing key is reported at its path."""
    problem = one_problem(load, basic_with("    key: [id]\n", ""))
    assert problem.startswith("tables[0].key: required key is missing")


def test_version_must_be_one(load: Callable[[str], Mapping]) -> None:
    """Only version 1 is understood."""
    assert one_problem(load, basic_with("version: 1", "version: 2")).startswith("version:")


def test_from_and_const(load: Callable[[str], Mapping]) -> None:
    """A column cannot have both from and const."""
    problem = one_problem(load, basic_with("{const: member}", "{const: member, from: x}"))
    assert problem.startswith("tables[0].columns.kind: has both from and const")


def test_neither_from_nor_const(load: Callable[[str], Mapping]) -> None:
    """A column must have from or const."""
    problem = one_problem(load, basic_with("{const: member}", "{transform: lower}"))
    assert problem.startswith("tables[0].columns.kind: has neither from nor const")


def test_several_from_without_transform(load: Callable[[str], Mapping]) -> None:
    """Several from columns without a transform name the transform field."""
    problem = one_problem(load, basic_with(', transform: concat_ws, args: {sep: " "}', ""))
    assert problem.startswith("tables[0].columns.full_name.transform:")


def test_filter_op_unknown(load: Callable[[str], Mapping]) -> None:
    """An unknown filter op lists the valid ops."""
    problem = one_problem(load, basic_with("op: ne", "op: like"))
    assert problem.startswith("tables[0].filter[0].op: invalid value 'like'")
    assert "not_in" in problem


def test_filter_in_needs_list(load: Callable[[str], Mapping]) -> None:
    """op in needs a list value, reported at .value."""
    problem = one_problem(load, basic_with("op: ne, value: true", "op: in, value: 3"))
    assert problem.startswith("tables[0].filter[0].value: op in needs a list value")


def test_filter_is_null_takes_no_value(load: Callable[[str], Mapping]) -> None:
    """op is_null takes no value."""
    problem = one_problem(load, basic_with("op: ne, value: true", "op: is_null, value: 1"))
    assert problem.startswith("tables[0].filter[0].value:")


def test_filter_eq_needs_value(load: Callable[[str], Mapping]) -> None:
    """op eq needs a value."""
    problem = one_problem(load, basic_with("op: ne, value: true", "op: eq"))
    assert problem.startswith("tables[0].filter[0].value: op eq needs a value")


def test_on_orphan_value(load: Callable[[str], Mapping]) -> None:
    """An invalid on_orphan lists dead_letter, set_null and drop."""
    problem = one_problem(load, BASIC + "defaults: {on_orphan: ignore}\n")
    assert problem.startswith("defaults.on_orphan: invalid value 'ignore'")
    assert "dead_letter" in problem
    assert "set_null" in problem


# ---------------------------------------------------------------- semantic errors


def test_unknown_transform_lists_valid(load: Callable[[str], Mapping]) -> None:
    """An unknown transform names .transform and lists the built-in transforms."""
    problem = one_problem(load, basic_with("transform: int_code_to_enum", "transform: int_to_enum"))
    assert problem.startswith("tables[0].columns.status.transform: unknown transform 'int_to_enum'")
    assert "int_code_to_enum" in problem
    assert "cents_to_numeric" in problem


def test_transform_args_validated(load: Callable[[str], Mapping]) -> None:
    """int_code_to_enum without codes names args.codes."""
    problem = one_problem(load, basic_with(", args: {codes: {1: active, 2: suspended}}", ""))
    assert problem.startswith("tables[0].columns.status.args.codes:")


def test_transform_unknown_arg(load: Callable[[str], Mapping]) -> None:
    """An argument the transform does not take is named."""
    problem = one_problem(load, basic_with('args: {sep: " "}', 'args: {sep: " ", glue: x}'))
    assert problem.startswith("tables[0].columns.full_name.args.glue:")
    assert "unknown argument" in problem


def test_transform_bad_timezone(load: Callable[[str], Mapping]) -> None:
    """naive_to_timestamptz with an unknown IANA zone names args.tz."""
    problem = one_problem(
        load,
        basic_with(
            "{from: email_address}", "{from: c, transform: naive_to_timestamptz, args: {tz: Mars/Base}}"
        ),
    )
    assert problem.startswith("tables[0].columns.email.args.tz: naive_to_timestamptz: unknown time zone")


def test_transform_arity(load: Callable[[str], Mapping]) -> None:
    """A single-input transform given several from columns names .from."""
    problem = one_problem(load, basic_with('transform: concat_ws, args: {sep: " "}', "transform: lower"))
    assert problem.startswith("tables[0].columns.full_name.from: transform lower takes exactly one column")


def test_custom_transform_not_importable(load: Callable[[str], Mapping]) -> None:
    """A custom transform whose module cannot be imported names .transform."""
    problem = one_problem(load, basic_with("transform: int_code_to_enum", "transform: no_such_pkg.mod.fn"))
    assert problem.startswith("tables[0].columns.status.transform: custom transform module 'no_such_pkg.mod'")


def test_custom_transform_not_callable(load: Callable[[str], Mapping]) -> None:
    """A custom transform path naming a non-callable is rejected."""
    problem = one_problem(
        load,
        basic_with(
            "transform: int_code_to_enum, args: {codes: {1: active, 2: suspended}}", "transform: os.sep"
        ),
    )
    assert problem.startswith("tables[0].columns.status.transform: 'os' has no callable 'sep'")


def test_custom_transform_importable(load: Callable[[str], Mapping]) -> None:
    """An importable callable by dotted path is accepted."""
    mapping = load(basic_with("{from: email_address}", "{from: email_address, transform: operator.neg}"))
    assert mapping.tables[0].columns["email"].transform == "operator.neg"


def test_key_must_be_mapped(load: Callable[[str], Mapping]) -> None:
    """A key column missing from columns names key[i] and lists the columns."""
    problem = one_problem(load, basic_with("key: [id]", "key: [id, tenant]"))
    assert problem.startswith("tables[0].key[1]: key column 'tenant' is not in columns")
    assert "email" in problem


def test_mapped_and_dropped(load: Callable[[str], Mapping]) -> None:
    """A V1 column both mapped and dropped names drop[i]."""
    problem = one_problem(load, basic_with("drop: [legacy_flag]", "drop: [legacy_flag, email_address]"))
    assert problem.startswith("tables[0].drop[1]: V1 column 'email_address' is both mapped")


def test_duplicate_table_mapping_name(load: Callable[[str], Mapping]) -> None:
    """Table mapping names are unique."""
    problem = one_problem(
        load, BASIC + "  - {name: users, source: b, target: b, key: [id], columns: {id: id}}\n"
    )
    assert problem.startswith("tables[1].name: table mapping name 'users' already used by tables[0]")


RELS = """
  - {name: orders, source: orders, target: orders, key: [id], columns: {id: id, user_id: uid}}
relationships:
  - {name: orders_user, table: orders, columns: [user_id], references: users, ref_columns: [id]}
"""


def test_relationship_ok(load: Callable[[str], Mapping]) -> None:
    """A relationship between produced tables and mapped columns loads."""
    assert load(BASIC + RELS).relationships[0].name == "orders_user"


def test_duplicate_relationship_name(load: Callable[[str], Mapping]) -> None:
    """Relationship names are unique."""
    extra = "  - {name: orders_user, table: orders, columns: [id], references: users, ref_columns: [id]}\n"
    problem = one_problem(load, BASIC + RELS + extra)
    assert problem.startswith("relationships[1].name: relationship name 'orders_user' already used")


def test_relationship_unknown_parent(load: Callable[[str], Mapping]) -> None:
    """A relationship referencing a table no mapping produces lists the produced tables."""
    problem = one_problem(load, BASIC + RELS.replace("references: users", "references: people"))
    assert problem.startswith("relationships[0].references: no table mapping produces V2 table 'people'")
    assert "orders, users" in problem


def test_relationship_unknown_child_column(load: Callable[[str], Mapping]) -> None:
    """A relationship column not mapped into the child table names columns[i]."""
    problem = one_problem(load, BASIC + RELS.replace("columns: [user_id]", "columns: [owner_id]"))
    assert problem.startswith("relationships[0].columns[0]: column 'owner_id' is not among the columns")


def test_relationship_unknown_ref_column(load: Callable[[str], Mapping]) -> None:
    """A ref_column not mapped into the parent table names ref_columns[i]."""
    problem = one_problem(load, BASIC + RELS.replace("ref_columns: [id]", "ref_columns: [uuid]"))
    assert problem.startswith("relationships[0].ref_columns[0]: column 'uuid'")


def test_relationship_arity(load: Callable[[str], Mapping]) -> None:
    """columns and ref_columns must have the same length."""
    problem = one_problem(load, BASIC + RELS.replace("ref_columns: [id]", "ref_columns: [id, email]"))
    assert problem.startswith("relationships[0].ref_columns: 2 ref_columns for 1 columns")


def test_direct_validation_also_checks_semantics() -> None:
    """Mapping.model_validate (without the loader) also rejects semantic problems."""
    with pytest.raises(ValueError, match="key column 'nope'"):
        Mapping.model_validate(
            {
                "version": 1,
                "tables": [
                    {"name": "a", "source": "a", "target": "a", "key": ["nope"], "columns": {"id": "id"}}
                ],
            }
        )
