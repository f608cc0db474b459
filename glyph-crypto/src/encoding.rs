//! Strict codecs for the wire: canonical base64, lowercase hex, and typed
//! access to the fields of a JSON object.
//!
//! Base64 goes through `base64ct`, which runs in constant time, because some
//! of what it carries is secret (the share key in a link).

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

use crate::error::DecodeError;

/// Standard base64 with padding (RFC 4648 section 4).
pub(crate) fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// URL-safe base64 without padding (RFC 4648 section 5).
pub(crate) fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes canonical standard base64; anything that would not re-encode to
/// the same text (stray bits in the last symbol, missing padding) is refused.
pub(crate) fn b64_decode(field: &'static str, text: &str) -> Result<Vec<u8>, DecodeError> {
    decode_canonical::<Base64>(field, text)
}

/// Decodes canonical unpadded base64url.
pub(crate) fn b64url_decode(field: &'static str, text: &str) -> Result<Vec<u8>, DecodeError> {
    decode_canonical::<Base64UrlUnpadded>(field, text)
}

fn decode_canonical<E: Encoding>(field: &'static str, text: &str) -> Result<Vec<u8>, DecodeError> {
    let bytes = E::decode_vec(text).map_err(|_| DecodeError::Base64(field))?;
    // Constant-time re-encoding: the comparison below is over public text
    // (what the caller handed us), so a plain comparison is fine.
    if E::encode_string(&bytes) != text {
        return Err(DecodeError::Base64(field));
    }
    Ok(bytes)
}

/// Converts decoded bytes into a fixed-size array, naming the field on error.
pub(crate) fn to_array<const N: usize>(
    field: &'static str,
    bytes: &[u8],
) -> Result<[u8; N], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::Length {
        field,
        expected: N,
        actual: bytes.len(),
    })
}

/// Read-only, typed view of one JSON object of the wire format.
///
/// Unknown fields are ignored, as the protocol requires; every field that is
/// read must be present (a nullable field is present and `null`).
pub(crate) struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// Views `value` as an object.
    pub(crate) fn of(value: &'a Value, what: &'static str) -> Result<Self, DecodeError> {
        value
            .as_object()
            .map(Fields)
            .ok_or(DecodeError::WrongType(what))
    }

    fn get(&self, field: &'static str) -> Result<&'a Value, DecodeError> {
        self.0.get(field).ok_or(DecodeError::MissingField(field))
    }

    /// A required nested object.
    pub(crate) fn object(&self, field: &'static str) -> Result<&'a Value, DecodeError> {
        let value = self.get(field)?;
        if value.is_object() {
            Ok(value)
        } else {
            Err(DecodeError::WrongType(field))
        }
    }

    /// A nested object that is present and may be `null`.
    pub(crate) fn nullable_object(
        &self,
        field: &'static str,
    ) -> Result<Option<&'a Value>, DecodeError> {
        match self.get(field)? {
            Value::Null => Ok(None),
            value @ Value::Object(_) => Ok(Some(value)),
            _ => Err(DecodeError::WrongType(field)),
        }
    }

    /// A required array.
    pub(crate) fn array(&self, field: &'static str) -> Result<&'a Vec<Value>, DecodeError> {
        self.get(field)?
            .as_array()
            .ok_or(DecodeError::WrongType(field))
    }

    /// A required string.
    pub(crate) fn str(&self, field: &'static str) -> Result<&'a str, DecodeError> {
        self.get(field)?
            .as_str()
            .ok_or(DecodeError::WrongType(field))
    }

    /// A required unsigned integer written without fraction or exponent.
    pub(crate) fn u64(&self, field: &'static str) -> Result<u64, DecodeError> {
        self.get(field)?
            .as_u64()
            .ok_or(DecodeError::WrongType(field))
    }

    /// A required `u32` id.
    pub(crate) fn u32(&self, field: &'static str) -> Result<u32, DecodeError> {
        u32::try_from(self.u64(field)?).map_err(|_| DecodeError::WrongType(field))
    }

    /// A `u32` id that is present and may be `null`.
    pub(crate) fn nullable_u32(&self, field: &'static str) -> Result<Option<u32>, DecodeError> {
        match self.get(field)? {
            Value::Null => Ok(None),
            value => value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or(DecodeError::WrongType(field)),
        }
    }

    /// Standard base64 bytes of any length.
    pub(crate) fn b64_vec(&self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        b64_decode(field, self.str(field)?)
    }

    /// Standard base64 bytes of exactly `N` bytes.
    pub(crate) fn b64_array<const N: usize>(
        &self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        to_array(field, &self.b64_vec(field)?)
    }

    /// Standard base64 of exactly `N` bytes, present and possibly `null`.
    pub(crate) fn nullable_b64_array<const N: usize>(
        &self,
        field: &'static str,
    ) -> Result<Option<[u8; N]>, DecodeError> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(to_array(field, &b64_decode(field, text)?)?)),
            _ => Err(DecodeError::WrongType(field)),
        }
    }

    /// The object's `v`, refused unless it is `expected`.
    pub(crate) fn version(&self, expected: u64) -> Result<(), DecodeError> {
        match self.u64("v")? {
            v if v == expected => Ok(()),
            other => Err(DecodeError::UnsupportedVersion(other)),
        }
    }
}

/// Parses JSON text into a value, mapping syntax errors to [`DecodeError::Json`].
pub(crate) fn parse_json(text: &str) -> Result<Value, DecodeError> {
    Ok(serde_json::from_str(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_refuses_non_canonical_trailing_bits() {
        // "AQ==" is canonical for [1]; "AR==" decodes to the same byte with a
        // stray low bit set.
        assert_eq!(b64_decode("f", "AQ==").unwrap(), vec![1]);
        assert_eq!(b64_decode("f", "AR=="), Err(DecodeError::Base64("f")));
        assert_eq!(b64_decode("f", "AQ"), Err(DecodeError::Base64("f")));
        assert_eq!(b64_decode("f", "AQ==\n"), Err(DecodeError::Base64("f")));
        assert_eq!(b64url_decode("f", "AQ").unwrap(), vec![1]);
        assert_eq!(b64url_decode("f", "AR"), Err(DecodeError::Base64("f")));
        assert_eq!(b64url_decode("f", "AQ=="), Err(DecodeError::Base64("f")));
        assert_eq!(b64url_decode("f", "+/"), Err(DecodeError::Base64("f")));
    }

    #[test]
    fn ids_must_be_plain_u32_integers() {
        let value: Value =
            serde_json::from_str(r#"{"a":1,"b":1.0,"c":1e3,"d":-1,"e":4294967296,"n":null}"#)
                .unwrap();
        let fields = Fields::of(&value, "test").unwrap();
        assert_eq!(fields.u32("a"), Ok(1));
        for bad in ["b", "c", "d", "e"] {
            assert!(fields.u32(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(fields.nullable_u32("n"), Ok(None));
        assert_eq!(fields.u32("zz"), Err(DecodeError::MissingField("zz")));
    }
}
