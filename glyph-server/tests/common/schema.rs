//! A validator for the part of JSON Schema (2020-12, as OpenAPI 3.1 uses
//! it) that the server's document is written in: `$ref`, `type` (one or a
//! list), `enum`, `oneOf`/`anyOf`/`allOf`, object `properties`/`required`/
//! `additionalProperties`, array `items`, string lengths, `pattern` and the
//! `byte` (base64) format, integer ranges and the `int32`/`int64` formats.
//! A keyword it does not know fails validation, so the document cannot
//! grow a constraint this test silently ignores.

use base64ct::{Base64, Encoding};
use serde_json::Value;

/// Keywords that only describe.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
];

/// The errors of `value` against `schema` (empty when it is valid).
pub(crate) fn validate(value: &Value, schema: &Value, doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(value, schema, doc, "$", &mut errors);
    errors
}

fn check(value: &Value, schema: &Value, doc: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        errors.push(format!("{at}: the schema is not an object"));
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$ref" => {
                let name = rule
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("#/components/schemas/");
                let target = &doc["components"]["schemas"][name];
                if target.is_null() {
                    errors.push(format!("{at}: unknown $ref {rule}"));
                } else {
                    check(value, target, doc, at, errors);
                }
            }
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !allowed.iter().any(|t| has_type(value, t)) {
                    errors.push(format!("{at}: {value} is not of type {rule}"));
                }
            }
            "enum" => {
                if !rule
                    .as_array()
                    .is_some_and(|options| options.contains(value))
                {
                    errors.push(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "oneOf" | "anyOf" => {
                let matching = rule
                    .as_array()
                    .map(|options| {
                        options
                            .iter()
                            .filter(|option| validate(value, option, doc).is_empty())
                            .count()
                    })
                    .unwrap_or(0);
                let good = if keyword == "oneOf" {
                    matching == 1
                } else {
                    matching >= 1
                };
                if !good {
                    errors.push(format!(
                        "{at}: {matching} of the {keyword} schemas match {value}"
                    ));
                }
            }
            "allOf" => {
                for option in rule.as_array().into_iter().flatten() {
                    check(value, option, doc, at, errors);
                }
            }
            "properties" => {
                if let (Some(object), Some(properties)) = (value.as_object(), rule.as_object()) {
                    for (name, property) in properties {
                        if let Some(field) = object.get(name) {
                            check(field, property, doc, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !object.contains_key(name) {
                            errors.push(format!("{at}: required field `{name}` is missing"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let (Some(object), Some(false)) = (value.as_object(), rule.as_bool()) {
                    let known = schema.get("properties").and_then(Value::as_object);
                    for name in object.keys() {
                        if !known.is_some_and(|k| k.contains_key(name)) {
                            errors.push(format!("{at}: field `{name}` is not in the schema"));
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    check(item, rule, doc, &format!("{at}[{i}]"), errors);
                }
            }
            "minLength" | "maxLength" => {
                if let (Some(text), Some(bound)) = (value.as_str(), rule.as_u64()) {
                    let len = text.chars().count() as u64;
                    let ok = if keyword == "minLength" {
                        len >= bound
                    } else {
                        len <= bound
                    };
                    if !ok {
                        errors.push(format!("{at}: length {len} breaks {keyword} {bound}"));
                    }
                }
            }
            "pattern" => {
                if let Some(text) = value.as_str() {
                    let regex = regex::Regex::new(rule.as_str().unwrap_or_default()).unwrap();
                    if !regex.is_match(text) {
                        errors.push(format!("{at}: {text:?} does not match {rule}"));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(n), Some(bound)) = (value.as_f64(), rule.as_f64()) {
                    let ok = if keyword == "minimum" {
                        n >= bound
                    } else {
                        n <= bound
                    };
                    if !ok {
                        errors.push(format!("{at}: {n} breaks {keyword} {bound}"));
                    }
                }
            }
            "format" => match (rule.as_str(), value) {
                (Some("int32"), Value::Number(n)) => {
                    // utoipa writes u32 as int32 with minimum 0.
                    let unsigned = n.as_u64().is_some_and(|n| n <= u64::from(u32::MAX));
                    let signed = n.as_i64().is_some_and(|n| i32::try_from(n).is_ok());
                    if !(unsigned || signed) {
                        errors.push(format!("{at}: {n} is not a 32-bit integer"));
                    }
                }
                (Some("int64"), Value::Number(n)) => {
                    if n.as_i64().is_none() && n.as_u64().is_none() {
                        errors.push(format!("{at}: {n} is not a 64-bit integer"));
                    }
                }
                (Some("byte"), Value::String(text)) => {
                    let canonical = Base64::decode_vec(text)
                        .is_ok_and(|bytes| Base64::encode_string(&bytes) == *text);
                    if !canonical {
                        errors.push(format!("{at}: {text:?} is not canonical base64"));
                    }
                }
                (Some("int32" | "int64" | "byte" | "binary"), _) => {}
                (other, _) => errors.push(format!("{at}: unknown format {other:?}")),
            },
            known if ANNOTATIONS.contains(&known) => {}
            unknown => errors.push(format!("{at}: the validator does not know `{unknown}`")),
        }
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}
