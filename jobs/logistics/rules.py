"""The rules a Kafka record must pass to be an event, evaluated in two ways that must agree.

- `screen` runs on every record, in the streaming plan: one JSON parse (`from_json` into the typed
  schema, the ids and times as variants so their JSON type is known), a few cheap checks, and a
  boolean `_ok`. It is the decision: `_ok` records are events, the others go to the quarantine.
- `explain` runs on the quarantined records only (a handful per batch): it parses them again, with
  type information for every field, and lists every problem with a reason code and a readable message.
  Where it finds nothing (it should not), the screen's own failed check is the reason: a record is never
  lost between the two.
A test runs every kind of hostile input through both and checks they agree.

The rules (the README's table of reason codes says the same):
  oversize        payload over MAX_PAYLOAD_BYTES, Kafka key over MAX_KEY_BYTES, a string over its field's limit
  malformed_json  empty/null payload, invalid UTF-8, not one JSON value, not a JSON object, duplicate top-level
                  key, nesting beyond the parser's limit (~1000), NaN/Infinity tokens (not JSON)
  missing_field   a required field absent, null, or an empty string
  wrong_type      a number that is not a JSON number ("0.25", true, {...}), an id or time that is not a JSON
                  string (epoch numbers), a time string that is not an ISO-8601 date and time
  out_of_range    numbers outside the field's physical limits (1e400 is Infinity: out of range), a risk class
                  not in RISK_CLASSES, times outside TIMESTAMP_RANGE
Accepted: unknown extra fields (ignored), a leading UTF-8 byte-order mark (RFC 8259 lets parsers ignore it),
times without a zone (UTC), a null Kafka key, Kafka headers (not read).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from contract.events import (
    DOUBLE_FIELDS,
    FIELDS,
    MAX_KEY_BYTES,
    MAX_PAYLOAD_BYTES,
    TEXT_FIELDS,
    TIMESTAMP_RANGE,
    TIMESTAMP_SHAPE,
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


def _kafka_columns(kafka_rows: DataFrame) -> list[Column]:
    return [
        # Keys are text to the tables; bytes that are not UTF-8 become U+FFFD instead of breaking readers.
        F.make_valid_utf8(F.col("key").cast("string")).alias("kafka_key"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    ]


def _body(name: str) -> Column:
    """Column `name` (a payload) without a leading UTF-8 byte-order mark."""
    value = F.col(name)
    return F.when(F.substring(value, 1, 3) == F.lit(BOM), F.expr(f"substring({name}, 4)")).otherwise(value)


def _colons(text: Column) -> Column:
    """How many ':' `text` holds (lengths in bytes: O(1); `replace` is a plain byte search, unlike `translate`
    or `instr`, several times slower here)."""
    return F.octet_length(text) - F.octet_length(F.replace(text, F.lit(":"), F.lit("")))


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


# ----- the screen: every record -----
def screen(kafka_rows: DataFrame) -> DataFrame:
    """Kafka source rows -> Kafka columns, the typed event fields, `_ok`, and for records that are not
    events their raw payload (`raw_value`) and the first check they failed (`_why`).

    Built as separate projections over named columns: Spark then parses each payload once (with
    spark.sql.optimizer.enableJsonExpressionOptimization off: create_session sets it; on, Spark splits the
    parse into one per field it reads)."""
    value = F.col("value")
    s1 = kafka_rows.select(
        *_kafka_columns(kafka_rows),
        value.alias("_value"),
        _body("value").alias("_body"),
    )
    size, body = F.coalesce(F.octet_length("_value"), F.lit(0)), F.col("_body")
    text = body.cast("string")
    envelope = [
        ("key size", F.coalesce(F.octet_length("kafka_key"), F.lit(0)) <= MAX_KEY_BYTES),
        ("payload size", (size > 0) & (size <= MAX_PAYLOAD_BYTES)),
    ]
    parseable = envelope[0][1] & envelope[1][1]
    s2 = s1.select(
        *KAFKA_NAMES,
        "_value",
        *[c.alias(f"_e{i}") for i, (_, c) in enumerate(envelope)],
        F.when(parseable & F.is_valid_utf8(text), text).alias("_text"),
    )
    text = F.col("_text")
    s3 = s2.select(
        "*",
        F.from_json(F.concat(F.lit('{"w":'), text, F.lit("}")), _WRAPPED, STRICT_JSON).alias("_j"),
    )
    parsed = F.col("_j._corrupt").isNull() & F.col("_j.w").isNotNull()
    s4 = s3.select(
        *KAFKA_NAMES,
        "_value",
        "_text",
        *[f"_e{i}" for i in range(len(envelope))],
        (text.isNotNull() & parsed).alias("_parsed"),
        *[F.col(f"_j.w.{f.name}").alias(f.name) for f in DOUBLE_FIELDS],
        *[F.variant_get(f"_j.w.{f.name}", "$", "string").alias(f"_s_{f.name}") for f in TEXT_FIELDS],
        *[(F.schema_of_variant(f"_j.w.{f.name}") == "STRING").alias(f"_isstr_{f.name}") for f in TEXT_FIELDS],
    )
    checks: list[tuple[str, Column]] = [(n, F.col(f"_e{i}")) for i, (n, _) in enumerate(envelope)]
    checks.append(("json", F.col("_parsed")))
    for f in DOUBLE_FIELDS:
        checks += [(f"{f.name} {n}", c) for n, c in _value_checks(f, F.col(f.name))]
    for f in TEXT_FIELDS:
        checks.append((f"{f.name} type", F.col(f"_isstr_{f.name}")))
        checks += [(f"{f.name} {n}", c) for n, c in _value_checks(f, F.col(f"_s_{f.name}"))]
    # Duplicate top-level keys, proved absent without a second parse. In valid JSON every key is followed by
    # one ':' outside strings. In a text without escapes (no backslash) the ':' inside strings are those of
    # the parsed values, so with K keys the text holds K + (':' of the known text fields' values) + (':' of
    # anything else) colons: exactly 20 + the known values' ones only if K = 20 and nothing else is there,
    # i.e. the 20 known fields (all present) once each. Any other record is checked key by key.
    known_colons = sum((_colons(F.col(f"_s_{f.name}")) for f in TEXT_FIELDS), F.lit(len(FIELDS)))
    quick = ~text.contains("\\") & (_colons(text) == known_colons)
    unique = F.aggregate(
        F.array(F.json_object_keys(text)), F.lit(True), lambda _, keys: F.size(keys) == F.size(F.array_distinct(keys))
    )
    checks.append(("unique keys", F.when(quick, F.lit(True)).otherwise(unique)))
    s5 = s4.select(
        *KAFKA_NAMES,
        "_value",
        *[F.col(f.name) for f in DOUBLE_FIELDS],
        *[F.col(f"_s_{f.name}").alias(f.name) for f in TEXT_FIELDS],
        *[F.coalesce(c, F.lit(False)).alias(f"_c{i}") for i, (_, c) in enumerate(checks)],
    )
    ok = F.lit(True)
    for i in range(len(checks)):
        ok = ok & F.col(f"_c{i}")
    why = F.lit(None).cast("string")
    for i, (name, _) in reversed(list(enumerate(checks))):
        why = F.when(~F.col(f"_c{i}"), F.lit(name)).otherwise(why)
    s6 = s5.select("*", ok.alias("_ok0"))
    timestamps = {f.name: F.try_to_timestamp(F.col(f.name)) for f in FIELDS if f.kind == "timestamp"}
    s7 = s6.select(
        *KAFKA_NAMES,
        *[timestamps.get(f.name, F.col(f.name)).alias(f.name) for f in FIELDS],
        "_ok0",
        F.when(~F.col("_ok0"), why).alias("_why0"),
        "_value",
    )
    ts_ok = F.lit(True)
    ts_why = F.lit(None).cast("string")
    for name in reversed(list(timestamps)):
        for check, cond in reversed(_timestamp_checks(F.col(name))):
            ts_ok = ts_ok & F.coalesce(cond, F.lit(False))
            ts_why = F.when(~F.coalesce(cond, F.lit(False)), F.lit(f"{name} {check}")).otherwise(ts_why)
    s8 = s7.select("*", (F.col("_ok0") & ts_ok).alias("_ok"))
    return s8.select(
        *KAFKA_NAMES,
        *[f.name for f in FIELDS],
        "_ok",
        F.when(~F.col("_ok"), F.coalesce("_why0", ts_why)).alias("_why"),
        # Only quarantined records carry their payload on (the shuffle of the dedup stays small).
        F.when(~F.col("_ok"), F.col("_value")).alias("raw_value"),
    )


# ----- the explanation: quarantined records -----
def _problem(code: str, message: Column) -> Column:
    return F.struct(F.lit(code).alias("code"), message.alias("message"))


_NUMERIC_TYPES = ("BIGINT", "DOUBLE", "INT", "SMALLINT", "TINYINT", "FLOAT")


def _field_problem(f: Field) -> Column:
    """The first problem of field `f` (or null) from its columns: JSON type `_t_<f>`, text `_s_<f>`,
    typed value `_x_<f>`."""
    json_type, name = F.col(f"_t_{f.name}"), F.lit(f.name)
    missing = json_type.isNull() | (json_type == "VOID")
    if f.kind == "double":
        value = F.col(f"_x_{f.name}")
        type_ok = json_type.isin(*_NUMERIC_TYPES) | json_type.startswith("DECIMAL")
        expected = "a number"
    else:
        value = F.col(f"_s_{f.name}")
        type_ok = json_type == "STRING"
        expected = "a string" if f.kind == "string" else "an ISO-8601 timestamp string"
        missing = missing | (type_ok & (F.length(value) == 0))
    checks = dict(_value_checks(f, value))
    problem = F.when(missing, _problem("missing_field", F.format_string("missing required field %s", name))).when(
        ~type_ok,
        _problem(
            "wrong_type",
            F.format_string("%s has the wrong type: JSON %s, expected %s", name, json_type, F.lit(expected)),
        ),
    )
    if f.kind == "double":
        return problem.when(
            ~F.coalesce(checks["range"], F.lit(False)),
            _problem(
                "out_of_range",
                F.format_string(
                    "%s = %s is out of range [%s, %s]",
                    name,
                    value.cast("string"),
                    F.lit(str(f.low)),
                    F.lit(str(f.high)),
                ),
            ),
        )
    if f.kind == "timestamp":
        ts = F.col(f"_x_{f.name}")
        ts_checks = dict(_timestamp_checks(ts))
        short = F.substring(value, 1, 40)
        return problem.when(
            ~checks["shape"] | ~ts_checks["valid"],
            _problem(
                "wrong_type",
                F.format_string(
                    "%s = '%s' is not an ISO-8601 date and time (yyyy-MM-ddTHH:mm[:ss[.f]][zone])", name, short
                ),
            ),
        ).when(
            ~ts_checks["range"],
            _problem(
                "out_of_range",
                F.format_string("%s = %s is outside [%s, %s)", name, short, *(F.lit(t) for t in TIMESTAMP_RANGE)),
            ),
        )
    problem = problem.when(
        ~checks["length"],
        _problem(
            "oversize",
            F.format_string(
                "%s is %d characters, over the limit of %d", name, F.length(value), F.lit(f.max_length or 0)
            ),
        ),
    )
    if f.allowed:
        allowed = ", ".join(f"'{a}'" for a in f.allowed)
        problem = problem.when(
            ~checks["allowed"],
            _problem(
                "out_of_range",
                F.format_string("%s = '%s' is not one of %s", name, F.substring(value, 1, 40), F.lit(allowed)),
            ),
        )
    return problem


def _typed_text(f: Field) -> Column:
    text = F.col(f"_s_{f.name}")
    return F.try_to_timestamp(text) if f.kind == "timestamp" else text


def explain(rows: DataFrame, only_where: Column | None = None) -> DataFrame:
    """Rows with `kafka_key` and `raw_value` (and any other columns, kept) -> the same plus `problems`, an array
    of (code, message), empty when the record passes every rule, `_event_id_text` (the event_id, if any) and
    the typed fields as `_x_<field>`.

    It parses each payload several times for the sake of precise messages: meant for few rows. With
    `only_where`, rows where it is false get null columns at almost no cost (the stream passes `~_ok`)."""
    todo = F.lit(True) if only_where is None else only_where

    def guarded(c: Column) -> Column:
        return c if only_where is None else F.when(todo, c)

    value = F.col("raw_value")
    size = F.coalesce(F.octet_length(value), F.lit(0))
    key_size = F.coalesce(F.octet_length("kafka_key"), F.lit(0))
    s1 = rows.select(
        "*", todo.alias("_todo"), size.alias("_size"), key_size.alias("_key_size"), _body("raw_value").alias("_body")
    )
    todo = F.col("_todo")
    text = F.col("_body").cast("string")
    parseable = todo & (F.col("_size") > 0) & (F.col("_size") <= MAX_PAYLOAD_BYTES)
    parseable = parseable & (F.col("_key_size") <= MAX_KEY_BYTES)
    s2 = s1.select(
        "*",
        guarded(F.coalesce(F.is_valid_utf8(text), F.lit(True))).alias("_utf8"),
        F.when(parseable, text).alias("_text"),
    )
    text = F.col("_text")
    s3 = s2.select(
        "*",
        F.when(F.col("_utf8"), F.try_parse_json(text)).alias("_parsed"),
        F.when(F.col("_utf8"), F.json_object_keys(text)).alias("_keys"),
        F.from_json(F.concat(F.lit('{"w":'), text, F.lit("}")), "w string, _corrupt string", STRICT_JSON)
        .getField("_corrupt")
        .isNull()
        .alias("_one_value"),
    )
    parsed = F.col("_parsed")
    s4 = s3.select(
        "*",
        F.schema_of_variant(parsed).alias("_top"),
        *[F.schema_of_variant(F.variant_get(parsed, f"$.{f.name}", "variant")).alias(f"_t_{f.name}") for f in FIELDS],
        *[F.try_variant_get(parsed, f"$.{f.name}", "string").alias(f"_s_{f.name}") for f in TEXT_FIELDS],
        *[F.try_variant_get(parsed, f"$.{f.name}", "double").alias(f"_x_{f.name}") for f in DOUBLE_FIELDS],
    )
    s5 = s4.select(
        "*",
        *[_typed_text(f).alias(f"_x_{f.name}") for f in TEXT_FIELDS],
    )
    size, top, keys = F.col("_size"), F.col("_top"), F.col("_keys")
    kind = (
        F.when(top.isin(*_NUMERIC_TYPES) | top.startswith("DECIMAL"), F.lit("number"))
        .when(top == "VOID", F.lit("null"))
        .otherwise(F.lower(F.regexp_extract(top, "^([A-Z]+)", 1)))
    )
    duplicated = F.filter(keys, lambda k: F.size(F.filter(keys, lambda x: x == k)) > 1)
    envelope = (
        F.when(~todo, F.lit(None))
        .when(
            F.col("_key_size") > MAX_KEY_BYTES,
            _problem(
                "oversize",
                F.format_string(
                    "Kafka key of %d bytes is over the %d-byte limit", F.col("_key_size"), F.lit(MAX_KEY_BYTES)
                ),
            ),
        )
        .when(size == 0, _problem("malformed_json", F.lit("empty payload")))
        .when(
            size > MAX_PAYLOAD_BYTES,
            _problem(
                "oversize",
                F.format_string("payload of %d bytes is over the %d-byte limit", size, F.lit(MAX_PAYLOAD_BYTES)),
            ),
        )
        .when(~F.col("_utf8"), _problem("malformed_json", F.lit("payload is not valid UTF-8")))
        .when(
            parsed.isNull(),
            _problem(
                "malformed_json",
                F.lit("not valid JSON (a syntax error, NaN/Infinity, or nesting deeper than the parser's limit)"),
            ),
        )
        .when(~top.startswith("OBJECT"), _problem("malformed_json", F.format_string("a JSON %s, not an object", kind)))
        .when(~F.col("_one_value"), _problem("malformed_json", F.lit("text after the JSON object")))
        .when(
            F.size(duplicated) > 0,
            _problem(
                "malformed_json",
                F.format_string("duplicate key '%s'", F.substring(F.element_at(duplicated, 1), 1, 64)),
            ),
        )
    )
    s6 = s5.select(
        "*",
        envelope.alias("_envelope"),
        *[F.when(todo, _field_problem(f)).alias(f"_p_{f.name}") for f in FIELDS],
    )
    field_problems = F.filter(F.array(*[F.col(f"_p_{f.name}") for f in FIELDS]), lambda p: p.isNotNull())
    problems = F.when(F.col("_envelope").isNotNull(), F.array(F.col("_envelope"))).otherwise(field_problems)
    return s6.select(
        *rows.columns,
        F.when(todo, problems).alias("problems"),
        F.col("_s_event_id").alias("_event_id_text"),
        *[F.col(f"_x_{f.name}") for f in FIELDS],
    )


def classify(kafka_rows: DataFrame) -> DataFrame:
    """Kafka source rows -> one row per record: Kafka columns, raw payload, `problems` (empty: an event) and
    the typed fields, by the detailed rules alone (tests, and the reference the screen is checked against)."""
    base = kafka_rows.select(*_kafka_columns(kafka_rows), F.col("value").alias("raw_value"))
    out = explain(base)
    return out.select(
        *KAFKA_NAMES,
        "raw_value",
        F.make_valid_utf8(F.col("raw_value").cast("string")).alias("raw_text"),
        "problems",
        *[F.col(f"_x_{f.name}").alias(f.name) for f in FIELDS],
        "_event_id_text",
    )
