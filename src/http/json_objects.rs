//! JSON bodies read as the API describes them: objects wherever a struct
//! is wanted. serde fills a struct from a JSON array of its fields in
//! order as readily as from an object (`[["ci", "admin"]]` for
//! `service_roles`), a form no description of tokend's API allows. A body
//! is read by serde_json as usual (types, unknown and repeated fields),
//! then once more from its parsed value through `ObjectsOnly`, which
//! refuses an array where a struct is wanted, at any depth. A string
//! holding a NUL (`\u0000`) is refused too: no field of the API holds one,
//! and one backend would store it where another refuses to.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use serde::de::{Unexpected, Visitor};
use serde_json::{Error, Value};

/// `body` read as `T`, every struct in it from a JSON object.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let read = serde_json::from_slice(body)?;
    let value: Value = serde_json::from_slice(body)?;
    if holds_nul(&value) {
        return Err(de::Error::custom(
            "a string holds a NUL character (\\u0000)",
        ));
    }
    T::deserialize(ObjectsOnly(&value))?;
    Ok(read)
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// A parsed value that refuses to be read as a struct unless it is an
/// object, and hands the same rule to every value inside it.
struct ObjectsOnly<'a>(&'a Value);

impl<'de> Deserializer<'de> for ObjectsOnly<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(fields) => visitor.visit_map(Fields {
                fields: fields.iter(),
                value: None,
            }),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            Value::Array(_) => Err(de::Error::invalid_type(Unexpected::Seq, &"a JSON object")),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

struct Items<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(ObjectsOnly(item)))
            .transpose()
    }
}

struct Fields<'a> {
    fields: serde_json::map::Iter<'a>,
    /// The value of the key read last.
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.fields.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(ObjectsOnly(value)),
            None => Err(de::Error::custom("a value asked for before its key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::from_slice;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Option<Vec<Inner>>,
        one: Option<Inner>,
        #[serde(default)]
        flags: Vec<bool>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        service: String,
        role: String,
        count: Option<u8>,
    }

    #[test]
    fn objects_are_read_as_serde_json_reads_them() {
        let body = br#"{"name": "n", "inner": [{"service": "s", "role": "r", "count": 3}],
                        "one": null, "flags": [true, false]}"#;
        let read: Outer = from_slice(body).unwrap();
        assert_eq!(read, serde_json::from_slice::<Outer>(body).unwrap());
        assert_eq!(read.inner.unwrap()[0].count, Some(3));
    }

    #[test]
    fn an_array_where_a_struct_is_wanted_is_refused_at_any_depth() {
        for body in [
            r#"["n", null, null, []]"#,
            r#"{"name": "n", "inner": [["s", "r", null]]}"#,
            r#"{"name": "n", "one": ["s", "r", 1]}"#,
        ] {
            assert!(
                serde_json::from_str::<Outer>(body).is_ok(),
                "serde_json alone takes {body}"
            );
            let refused = from_slice::<Outer>(body.as_bytes()).unwrap_err();
            assert!(
                refused.to_string().contains("expected a JSON object"),
                "{body}: {refused}"
            );
        }
    }

    #[test]
    fn a_nul_in_any_string_is_refused() {
        for body in [
            r#"{"name": "a\u0000b"}"#,
            r#"{"name": "n", "one": {"service": "s\u0000", "role": "r"}}"#,
            r#"{"name": "n", "inner": [{"service": "s", "role": "\u0000"}]}"#,
            r#"{"name": "n", "evil\u0000": 1}"#,
        ] {
            let refused = from_slice::<serde_json::Value>(body.as_bytes()).unwrap_err();
            assert!(refused.to_string().contains("NUL"), "{body}: {refused}");
        }
    }

    #[test]
    fn what_serde_json_refuses_stays_refused() {
        for body in [
            r#"{"name": "n", "name": "m"}"#,
            r#"{"name": "n", "evil": 1}"#,
            r#"{"name": "n", "one": {"service": "s", "role": "r", "count": 300}}"#,
            r#"{"name": "n""#,
        ] {
            assert!(from_slice::<Outer>(body.as_bytes()).is_err(), "{body}");
        }
    }
}
