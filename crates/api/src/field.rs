//! [`Field`]: a field of a request body read without failing, so that a request with several
//! mistakes is told all of them at once instead of only the first one serde met.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A field of a request body as the client sent it.
///
/// Reading one never fails: a value of another JSON type than `T` is kept as
/// [`Field::Invalid`] and the rest of the body is still read. Like `Option`, an absent field
/// and `null` are both [`Field::Missing`], so a struct field of this type needs no
/// `#[serde(default)]`.
///
/// The derived OpenAPI schema cannot see through this wrapper: a struct field of type
/// `Field<T>` says `#[schema(value_type = T)]` beside it (`Option<T>` when it may be absent).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Field<T> {
    /// Absent, or `null`.
    #[default]
    Missing,
    Valid(T),
    /// Of another JSON type than `T`: what the client sent instead.
    Invalid(Value),
}

impl<T> Field<T> {
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Missing)
    }
}

impl<T> From<T> for Field<T> {
    fn from(value: T) -> Self {
        Self::Valid(value)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `Option` is what serde hands an absent field to, as well as `null`.
        let Some(value) = Option::<Value>::deserialize(deserializer)? else {
            return Ok(Self::Missing);
        };
        Ok(match T::deserialize(&value) {
            Ok(valid) => Self::Valid(valid),
            Err(_) => Self::Invalid(value),
        })
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Missing => serializer.serialize_none(),
            Self::Valid(value) => value.serialize(serializer),
            Self::Invalid(sent) => sent.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct Body {
        name: Field<String>,
        count: Field<i64>,
    }

    fn read(body: Value) -> Body {
        serde_json::from_value(body).expect("a body with lenient fields always reads")
    }

    #[test]
    fn a_value_of_the_right_type_is_valid() {
        let body = read(json!({"name": "ada", "count": 3}));
        assert_eq!(body.name, Field::Valid("ada".to_owned()));
        assert_eq!(body.count, Field::Valid(3));
    }

    #[test]
    fn an_absent_field_and_null_are_both_missing() {
        let body = read(json!({"count": null}));
        assert_eq!(body.name, Field::Missing);
        assert_eq!(body.count, Field::Missing);
    }

    #[test]
    fn a_value_of_another_type_is_kept_as_invalid_without_failing_the_rest() {
        let body = read(json!({"name": 7, "count": 1.5}));
        assert_eq!(body.name, Field::Invalid(json!(7)));
        assert_eq!(body.count, Field::Invalid(json!(1.5)));
    }

    #[test]
    fn a_field_writes_back_what_it_read() {
        let sent = json!({"name": "ada", "count": "two"});
        let written = serde_json::to_value(read(sent.clone())).expect("serialize");
        assert_eq!(written, sent);
    }
}
