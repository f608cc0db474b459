//! The binary codec of stored state (sessions, prekey stores): a magic tag,
//! a format version, then fixed-width fields. Strict on reading: wrong
//! magic, unknown version, short or trailing bytes are all refused.
//!
//! The buffer being written is wiped when dropped, since it holds secrets.

use zeroize::Zeroizing;

use crate::error::DecodeError;

/// Builds a state blob.
pub(crate) struct StateWriter(Zeroizing<Vec<u8>>);

impl StateWriter {
    /// Starts a blob with its 4-byte magic tag and format version.
    pub(crate) fn new(magic: &[u8; 4], version: u8) -> Self {
        let mut bytes = Zeroizing::new(Vec::with_capacity(512));
        bytes.extend_from_slice(magic);
        bytes.push(version);
        Self(bytes)
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.0.push(u8::from(value));
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.0.extend_from_slice(value);
    }

    /// A presence byte, then the bytes when present.
    pub(crate) fn option<const N: usize>(&mut self, value: Option<&[u8; N]>) {
        self.bool(value.is_some());
        if let Some(value) = value {
            self.bytes(value);
        }
    }

    /// A presence byte, then the `u32` when present.
    pub(crate) fn option_u32(&mut self, value: Option<u32>) {
        self.bool(value.is_some());
        if let Some(value) = value {
            self.u32(value);
        }
    }

    pub(crate) fn finish(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

/// Reads a state blob written by [`StateWriter`].
pub(crate) struct StateReader<'a> {
    rest: &'a [u8],
}

const TRUNCATED: DecodeError = DecodeError::State("truncated");

impl<'a> StateReader<'a> {
    /// Checks the magic tag and returns the reader and the format version.
    pub(crate) fn new(bytes: &'a [u8], magic: &[u8; 4]) -> Result<(Self, u8), DecodeError> {
        let mut reader = Self { rest: bytes };
        if reader.take(4)? != magic {
            return Err(DecodeError::State("not this kind of state"));
        }
        let version = reader.u8()?;
        Ok((reader, version))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(TRUNCATED);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `n` bytes.
    pub(crate) fn take_bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.take(n)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::State("a flag is neither 0 nor 1")),
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.take(N)?.try_into().map_err(|_| TRUNCATED)
    }

    pub(crate) fn option<const N: usize>(&mut self) -> Result<Option<[u8; N]>, DecodeError> {
        if self.bool()? {
            self.array().map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn option_u32(&mut self) -> Result<Option<u32>, DecodeError> {
        if self.bool()? {
            self.u32().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Refuses trailing bytes.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::State("trailing bytes"))
        }
    }
}
