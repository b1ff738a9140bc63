"""The rules a Kafka record must pass to be an event, evaluated in two ways that must agree.

- `screen` runs on every record, in the streaming plan: one JSON parse (`from_json` into the typed schema, the
  ids and times as variants so their JSON type is known), a few cheap checks, and a boolean `_ok`: the decision.
- `explain` runs on the quarantined records only: it parses them again, with type information for every field,
  and lists every problem with a reason code (the README's table) and a readable message.
Both take a field's value rules from `_value_checks`; a test runs every kind of hostile input through both.
Each step is one projection over named columns (`_text_<field>`, `_value_<field>`, `_json_type_<field>`,
`_pass_<check>`): separate projections keep Spark from copying the parse into every expression that reads it.
"""

from __future__ import annotations

import operator
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from contract.events import (
    DOUBLE_FIELDS,
    FIELDS,
    MALFORMED_JSON,
    MAX_KEY_BYTES,
    MAX_PAYLOAD_BYTES,
    MISSING_FIELD,
    OUT_OF_RANGE,
    OVERSIZE,
    TEXT_FIELDS,
    TIMESTAMP_RANGE,
    TIMESTAMP_SHAPE,
    WRONG_TYPE,
    Field,
)

from .schema import KAFKA_NAMES

BOM = b"\xef\xbb\xbf"
# from_json made as strict as the JSON standard (Spark's defaults accept single quotes and NaN tokens).
STRICT_JSON = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": "_corrupt",
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "allowUnquotedFieldNames": "false",
    "allowComments": "false",
    "allowNumericLeadingZeros": "false",
    "allowBackslashEscapingAnyCharacter": "false",
    "allowUnquotedControlChars": "false",
}
# The payload is parsed wrapped as {"w": <payload>}: a payload that is not exactly one JSON value (text
# after it, a second object) breaks the wrapper, and the parser reports it like any syntax error.
_INNER = T.StructType(
    [T.StructField(f.name, T.DoubleType() if f.kind == "double" else T.VariantType()) for f in FIELDS]
)
_WRAPPED = T.StructType([T.StructField("w", _INNER), T.StructField("_corrupt", T.StringType())])
_NUMERIC_TYPES = ("BIGINT", "DOUBLE", "INT", "SMALLINT", "TINYINT", "FLOAT")
ENVELOPE_CHECKS = ("key size", "payload size")


def _kafka_columns() -> list[Column]:
    # Keys are text to the tables; bytes that are not UTF-8 become U+FFFD instead of breaking readers.
    key = F.make_valid_utf8(F.col("key").cast("string")).alias("kafka_key")
    return [key, *[F.col(c).alias(f"kafka_{c}") for c in ("topic", "partition", "offset", "timestamp")]]


def _without_bom(name: str) -> Column:
    """Column `name` (a payload) without a leading UTF-8 byte-order mark."""
    value = F.col(name)
    return F.when(F.substring(value, 1, 3) == F.lit(BOM), F.expr(f"substring({name}, 4)")).otherwise(value)


def _wrapped(text: Column) -> Column:
    return F.concat(F.lit('{"w":'), text, F.lit("}"))


def _colons(text: Column) -> Column:
    """How many ':' `text` holds (`replace` is a plain byte search, several times faster than `translate`)."""
    return F.octet_length(text) - F.octet_length(F.replace(text, F.lit(":"), F.lit("")))


def _is_number(json_type: Column) -> Column:
    return json_type.isin(*_NUMERIC_TYPES) | json_type.startswith("DECIMAL")


def _value_checks(f: Field, value: Column) -> list[tuple[str, Column]]:
    """(check name, condition) of a typed value, shared by both evaluations."""
    if f.kind == "double":
        return [("range", value.between(F.lit(f.low), F.lit(f.high)))]  # NaN and null fail `between`
    checks = [("present", F.length(value) > 0)]
    if f.kind == "timestamp":
        return [*checks, ("shape", value.rlike(TIMESTAMP_SHAPE))]
    checks.append(("length", F.length(value) <= F.lit(f.max_length)))
    if f.allowed:
        checks.append(("allowed", value.isin(list(f.allowed))))
    return checks


def _timestamp_checks(ts: Column) -> list[tuple[str, Column]]:
    low, high = (F.lit(t).cast("timestamp") for t in TIMESTAMP_RANGE)
    return [("valid", ts.isNotNull()), ("range", (ts >= low) & (ts < high))]


def _first(first: tuple[Column, Column], *rest: tuple[Column, Column]) -> Column:
    """The value of the first (condition, value) case whose condition holds (null if none)."""
    return reduce(lambda chain, case: chain.when(*case), rest, F.when(*first))


def _all(conditions: list[Column]) -> Column:
    return reduce(operator.and_, conditions, F.lit(True))


def _first_failed(checks: list[tuple[str, Column]]) -> Column:
    """The name of the first check that does not hold (null if all do)."""
    return _first(*[(~passed, F.lit(name)) for name, passed in checks])


def _pass(check: str) -> str:
    return "_pass_" + check.replace(" ", "_")


def _typed(f: Field, text: Column) -> Column:
    return F.try_to_timestamp(text) if f.kind == "timestamp" else text


# ----- the screen: every record -----
def _payload(kafka_rows: DataFrame) -> DataFrame:
    return kafka_rows.select(*_kafka_columns(), F.col("value").alias("_payload"), _without_bom("value").alias("_body"))


def _envelope_checked(rows: DataFrame) -> DataFrame:
    """The key's and the payload's sizes checked; `_text`: the payload as text where they pass and it is UTF-8."""
    size = F.coalesce(F.octet_length("_payload"), F.lit(0))
    key_ok = F.coalesce(F.octet_length("kafka_key"), F.lit(0)) <= MAX_KEY_BYTES
    size_ok = (size > 0) & (size <= MAX_PAYLOAD_BYTES)
    text = F.col("_body").cast("string")
    return rows.select(
        *KAFKA_NAMES,
        "_payload",
        *[c.alias(_pass(n)) for n, c in zip(ENVELOPE_CHECKS, (key_ok, size_ok), strict=True)],
        F.when(key_ok & size_ok & F.is_valid_utf8(text), text).alias("_text"),
    )


def _parsed_once(rows: DataFrame) -> DataFrame:
    return rows.select("*", F.from_json(_wrapped(F.col("_text")), _WRAPPED, STRICT_JSON).alias("_json"))


def _field_values(rows: DataFrame) -> DataFrame:
    """Whether the payload parsed; the numbers, the text fields' strings and whether they are JSON strings."""
    parsed = F.col("_json._corrupt").isNull() & F.col("_json.w").isNotNull()
    return rows.select(
        *KAFKA_NAMES,
        "_payload",
        "_text",
        *[_pass(n) for n in ENVELOPE_CHECKS],
        (F.col("_text").isNotNull() & parsed).alias(_pass("json")),
        *[F.col(f"_json.w.{f.name}").alias(f.name) for f in DOUBLE_FIELDS],
        *[F.variant_get(f"_json.w.{f.name}", "$", "string").alias(f"_text_{f.name}") for f in TEXT_FIELDS],
        *[(F.schema_of_variant(f"_json.w.{f.name}") == "STRING").alias(_pass(f"{f.name} type")) for f in TEXT_FIELDS],
    )


def _unique_keys() -> Column:
    """No duplicate top-level key, without a second parse where possible: in valid JSON without escapes, the
    colons are one per key plus those inside the parsed strings, so 20 + the known text values' colons means
    exactly the 20 known fields, once each. Any other record is checked key by key."""
    text = F.col("_text")
    known_colons = sum((_colons(F.col(f"_text_{f.name}")) for f in TEXT_FIELDS), F.lit(len(FIELDS)))
    quick = ~text.contains("\\") & (_colons(text) == known_colons)
    unique = F.aggregate(
        F.array(F.json_object_keys(text)), F.lit(True), lambda _, keys: F.size(keys) == F.size(F.array_distinct(keys))
    )
    return F.when(quick, F.lit(True)).otherwise(unique)


def _field_checks() -> list[tuple[str, Column]]:
    """Every check before the times are parsed, in order: the first one a record fails is its `_why`."""
    checks = [(n, F.col(_pass(n))) for n in (*ENVELOPE_CHECKS, "json")]
    for f in DOUBLE_FIELDS:
        checks += [(f"{f.name} {n}", c) for n, c in _value_checks(f, F.col(f.name))]
    for f in TEXT_FIELDS:
        checks.append((f"{f.name} type", F.col(_pass(f"{f.name} type"))))
        checks += [(f"{f.name} {n}", c) for n, c in _value_checks(f, F.col(f"_text_{f.name}"))]
    return [*checks, ("unique keys", _unique_keys())]


def _fields_checked(rows: DataFrame, checks: list[tuple[str, Column]]) -> DataFrame:
    return rows.select(
        *KAFKA_NAMES,
        "_payload",
        *[F.col(f.name) for f in DOUBLE_FIELDS],
        *[F.col(f"_text_{f.name}").alias(f.name) for f in TEXT_FIELDS],
        *[F.coalesce(c, F.lit(False)).alias(_pass(n)) for n, c in checks],
    )


def _times_parsed(rows: DataFrame, checks: list[tuple[str, Column]]) -> DataFrame:
    """The fields in the schema's order, the times parsed; `_fields_ok` and its first failed check."""
    passed = [(n, F.col(_pass(n))) for n, _ in checks]
    rows = rows.select("*", _all([c for _, c in passed]).alias("_fields_ok"))
    return rows.select(
        *KAFKA_NAMES,
        *[_typed(f, F.col(f.name)).alias(f.name) for f in FIELDS],
        "_fields_ok",
        F.when(~F.col("_fields_ok"), _first_failed(passed)).alias("_fields_why"),
        "_payload",
    )


def _decided(rows: DataFrame) -> DataFrame:
    """`_ok` (every check held, the times' too), `_why` (the first that did not), `raw_value`."""
    time_checks = [
        (f"{f.name} {n}", F.coalesce(c, F.lit(False)))
        for f in FIELDS
        if f.kind == "timestamp"
        for n, c in _timestamp_checks(F.col(f.name))
    ]
    rows = rows.select("*", (F.col("_fields_ok") & _all([c for _, c in time_checks])).alias("_ok"))
    ok = F.col("_ok")
    return rows.select(
        *KAFKA_NAMES,
        *[f.name for f in FIELDS],
        "_ok",
        F.when(~ok, F.coalesce("_fields_why", _first_failed(time_checks))).alias("_why"),
        # Only quarantined records carry their payload on (the shuffle of the dedup stays small).
        F.when(~ok, F.col("_payload")).alias("raw_value"),
    )


def screen(kafka_rows: DataFrame) -> DataFrame:
    """Kafka source rows -> Kafka columns, the typed event fields, `_ok`, and for records that are not
    events their raw payload (`raw_value`) and the first check they failed (`_why`). One parse per payload,
    given session.SESSION_CONF."""
    rows = _field_values(_parsed_once(_envelope_checked(_payload(kafka_rows))))
    checks = _field_checks()
    return _decided(_times_parsed(_fields_checked(rows, checks), checks))


# ----- the explanation: quarantined records -----
def _problem(code: str, message: Column) -> Column:
    return F.struct(F.lit(code).alias("code"), message.alias("message"))


def _number_problems(f: Field, value: Column) -> list[tuple[Column, Column]]:
    in_range = dict(_value_checks(f, value))["range"]
    low, high = F.lit(str(f.low)), F.lit(str(f.high))
    message = F.format_string("%s = %s is out of range [%s, %s]", F.lit(f.name), value.cast("string"), low, high)
    return [(~F.coalesce(in_range, F.lit(False)), _problem(OUT_OF_RANGE, message))]


def _timestamp_problems(f: Field, text: Column) -> list[tuple[Column, Column]]:
    checks, ts_checks = dict(_value_checks(f, text)), dict(_timestamp_checks(F.col(f"_value_{f.name}")))
    name, short = F.lit(f.name), F.substring(text, 1, 40)
    shape = "%s = '%s' is not an ISO-8601 date and time (yyyy-MM-ddTHH:mm[:ss[.f]][zone])"
    outside = F.format_string("%s = %s is outside [%s, %s)", name, short, *(F.lit(t) for t in TIMESTAMP_RANGE))
    return [
        (~checks["shape"] | ~ts_checks["valid"], _problem(WRONG_TYPE, F.format_string(shape, name, short))),
        (~ts_checks["range"], _problem(OUT_OF_RANGE, outside)),
    ]


def _string_problems(f: Field, text: Column) -> list[tuple[Column, Column]]:
    checks, name = dict(_value_checks(f, text)), F.lit(f.name)
    over = F.format_string("%s is %d characters, over the limit of %d", name, F.length(text), F.lit(f.max_length or 0))
    problems = [(~checks["length"], _problem(OVERSIZE, over))]
    if f.allowed:
        allowed = F.lit(", ".join(f"'{a}'" for a in f.allowed))
        message = F.format_string("%s = '%s' is not one of %s", name, F.substring(text, 1, 40), allowed)
        problems.append((~checks["allowed"], _problem(OUT_OF_RANGE, message)))
    return problems


def _field_problem(f: Field) -> Column:
    """The first problem of field `f` (or null): missing, of the wrong JSON type, or a value rule broken."""
    json_type, name = F.col(f"_json_type_{f.name}"), F.lit(f.name)
    missing = json_type.isNull() | (json_type == "VOID")
    if f.kind == "double":
        value, type_ok, expected = F.col(f"_value_{f.name}"), _is_number(json_type), "a number"
        value_problems = _number_problems(f, value)
    else:
        value, type_ok = F.col(f"_text_{f.name}"), json_type == "STRING"
        expected = "a string" if f.kind == "string" else "an ISO-8601 timestamp string"
        missing = missing | (type_ok & (F.length(value) == 0))
        value_problems = (_timestamp_problems if f.kind == "timestamp" else _string_problems)(f, value)
    wrong = F.format_string("%s has the wrong type: JSON %s, expected %s", name, json_type, F.lit(expected))
    return _first(
        (missing, _problem(MISSING_FIELD, F.format_string("missing required field %s", name))),
        (~type_ok, _problem(WRONG_TYPE, wrong)),
        *value_problems,
    )


def _envelope_problem(size: Column, key_size: Column) -> Column:
    """The first problem of the record as a whole (or null): its sizes, its encoding, its JSON."""
    top, keys, parsed = F.col("_top"), F.col("_keys"), F.col("_parsed")
    kind = _first((_is_number(top), F.lit("number")), (top == "VOID", F.lit("null"))).otherwise(
        F.lower(F.regexp_extract(top, "^([A-Z]+)", 1))
    )
    duplicated = F.filter(keys, lambda k: F.size(F.filter(keys, lambda x: x == k)) > 1)
    key_over = F.format_string("Kafka key of %d bytes is over the %d-byte limit", key_size, F.lit(MAX_KEY_BYTES))
    size_over = F.format_string("payload of %d bytes is over the %d-byte limit", size, F.lit(MAX_PAYLOAD_BYTES))
    not_json = "not valid JSON (a syntax error, NaN/Infinity, or nesting deeper than the parser's limit)"
    duplicate = F.format_string("duplicate key '%s'", F.substring(F.element_at(duplicated, 1), 1, 64))
    return _first(
        (~F.col("_todo"), F.lit(None)),
        (key_size > MAX_KEY_BYTES, _problem(OVERSIZE, key_over)),
        (size == 0, _problem(MALFORMED_JSON, F.lit("empty payload"))),
        (size > MAX_PAYLOAD_BYTES, _problem(OVERSIZE, size_over)),
        (~F.col("_utf8"), _problem(MALFORMED_JSON, F.lit("payload is not valid UTF-8"))),
        (parsed.isNull(), _problem(MALFORMED_JSON, F.lit(not_json))),
        (~top.startswith("OBJECT"), _problem(MALFORMED_JSON, F.format_string("a JSON %s, not an object", kind))),
        (~F.col("_one_value"), _problem(MALFORMED_JSON, F.lit("text after the JSON object"))),
        (F.size(duplicated) > 0, _problem(MALFORMED_JSON, duplicate)),
    )


def _explained_text(rows: DataFrame, todo: Column, guarded: bool) -> DataFrame:
    """`_todo`, the sizes, `_utf8`, and `_text`: the payload as text where its sizes allow a parse."""
    rows = rows.select(
        "*",
        todo.alias("_todo"),
        F.coalesce(F.octet_length("raw_value"), F.lit(0)).alias("_size"),
        F.coalesce(F.octet_length("kafka_key"), F.lit(0)).alias("_key_size"),
        _without_bom("raw_value").alias("_body"),
    )
    todo, size, text = F.col("_todo"), F.col("_size"), F.col("_body").cast("string")
    utf8 = F.coalesce(F.is_valid_utf8(text), F.lit(True))
    parseable = todo & (size > 0) & (size <= MAX_PAYLOAD_BYTES) & (F.col("_key_size") <= MAX_KEY_BYTES)
    return rows.select(
        "*", (F.when(todo, utf8) if guarded else utf8).alias("_utf8"), F.when(parseable, text).alias("_text")
    )


def _parsed_with_types(rows: DataFrame) -> DataFrame:
    """The payload as a variant, its top-level keys, whether it is one JSON value; each field's JSON type,
    text and typed value."""
    text, utf8 = F.col("_text"), F.col("_utf8")
    rows = rows.select(
        "*",
        F.when(utf8, F.try_parse_json(text)).alias("_parsed"),
        F.when(utf8, F.json_object_keys(text)).alias("_keys"),
        F.from_json(_wrapped(text), "w string, _corrupt string", STRICT_JSON)
        .getField("_corrupt")
        .isNull()
        .alias("_one_value"),
    )
    parsed = F.col("_parsed")
    rows = rows.select(
        "*",
        F.schema_of_variant(parsed).alias("_top"),
        *[
            F.schema_of_variant(F.variant_get(parsed, f"$.{f.name}", "variant")).alias(f"_json_type_{f.name}")
            for f in FIELDS
        ],
        *[F.try_variant_get(parsed, f"$.{f.name}", "string").alias(f"_text_{f.name}") for f in TEXT_FIELDS],
        *[F.try_variant_get(parsed, f"$.{f.name}", "double").alias(f"_value_{f.name}") for f in DOUBLE_FIELDS],
    )
    return rows.select("*", *[_typed(f, F.col(f"_text_{f.name}")).alias(f"_value_{f.name}") for f in TEXT_FIELDS])


def explain(rows: DataFrame, only_where: Column | None = None) -> DataFrame:
    """Rows with `kafka_key` and `raw_value` (other columns kept) -> the same plus `problems`, an array of
    (code, message), empty when the record passes every rule, `_event_id_text` and the typed fields as
    `_value_<field>`. Several parses per payload: meant for few rows; with `only_where`, rows where it is
    false get null columns at almost no cost (the stream passes `~_ok`)."""
    todo = F.lit(True) if only_where is None else only_where
    out = _parsed_with_types(_explained_text(rows, todo, guarded=only_where is not None))
    todo = F.col("_todo")
    out = out.select(
        "*",
        _envelope_problem(F.col("_size"), F.col("_key_size")).alias("_envelope"),
        *[F.when(todo, _field_problem(f)).alias(f"_problem_{f.name}") for f in FIELDS],
    )
    field_problems = F.filter(F.array(*[F.col(f"_problem_{f.name}") for f in FIELDS]), lambda p: p.isNotNull())
    problems = F.when(F.col("_envelope").isNotNull(), F.array(F.col("_envelope"))).otherwise(field_problems)
    return out.select(
        *rows.columns,
        F.when(todo, problems).alias("problems"),
        F.col("_text_event_id").alias("_event_id_text"),
        *[F.col(f"_value_{f.name}") for f in FIELDS],
    )


def classify(kafka_rows: DataFrame) -> DataFrame:
    """Kafka source rows -> one row per record: Kafka columns, raw payload, `problems` (empty: an event) and
    the typed fields, by the detailed rules alone (tests, and the reference the screen is checked against)."""
    out = explain(kafka_rows.select(*_kafka_columns(), F.col("value").alias("raw_value")))
    return out.select(
        *KAFKA_NAMES,
        "raw_value",
        F.make_valid_utf8(F.col("raw_value").cast("string")).alias("raw_text"),
        "problems",
        *[F.col(f"_value_{f.name}").alias(f.name) for f in FIELDS],
        "_event_id_text",
    )
