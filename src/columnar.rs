//! A small, versioned binary layout for columns of numbers and strings.
//!
//! The store keeps the hot data (the current job snapshot's scoring fields, a day of
//! actions) as one blob of columns, so that loading 100,000 jobs is a handful of memcpys
//! instead of 100,000 deserialisations. Layout: a 4-byte magic, then sections, each a
//! little-endian `u32` byte length followed by that many bytes. Numbers are little-endian.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ColumnarError {
    #[error("blob is not a {expected} blob (bad magic)")]
    BadMagic { expected: &'static str },
    #[error("blob ends early while reading {what}")]
    Truncated { what: &'static str },
    #[error("column {what} has {found} values, expected {expected}")]
    Length {
        what: &'static str,
        found: usize,
        expected: usize,
    },
    #[error("column {what} holds invalid UTF-8")]
    Utf8 { what: &'static str },
}

/// Strings stored back to back with offsets: `get(i)` is `bytes[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrColumn {
    offsets: Vec<u32>,
    bytes: String,
}

/// The empty column: its first offset is there, so a pushed row encodes and decodes.
impl Default for StrColumn {
    fn default() -> Self {
        Self::new()
    }
}

impl StrColumn {
    pub fn new() -> Self {
        Self {
            offsets: vec![0],
            bytes: String::new(),
        }
    }

    /// `rows` empty strings.
    pub fn blank(rows: usize) -> Self {
        Self {
            offsets: vec![0; rows + 1],
            bytes: String::new(),
        }
    }

    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            bytes: String::with_capacity(bytes),
        }
    }

    pub fn push(&mut self, value: &str) {
        self.bytes.push_str(value);
        self.offsets.push(self.bytes.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, index: usize) -> &str {
        &self.bytes[self.offsets[index] as usize..self.offsets[index + 1] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// The same strings in another order (`order[k]` is the old index of new row `k`).
    pub fn gather(&self, order: &[usize]) -> Self {
        let mut out = Self::with_capacity(order.len(), self.bytes.len());
        for &index in order {
            out.push(self.get(index));
        }
        out
    }

    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.bytes.capacity()
    }
}

/// Lists of `u32` per row (feature codes), stored like [`StrColumn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListColumn {
    offsets: Vec<u32>,
    values: Vec<u32>,
}

impl Default for ListColumn {
    fn default() -> Self {
        Self::new()
    }
}

impl ListColumn {
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.values.capacity() * 4
    }

    pub fn new() -> Self {
        Self {
            offsets: vec![0],
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, values: &[u32]) {
        self.values.extend_from_slice(values);
        self.offsets.push(self.values.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, index: usize) -> &[u32] {
        &self.values[self.offsets[index] as usize..self.offsets[index + 1] as usize]
    }

    pub fn gather(&self, order: &[usize]) -> Self {
        let mut out = Self {
            offsets: Vec::with_capacity(order.len() + 1),
            values: Vec::new(),
        };
        out.offsets.push(0);
        for &index in order {
            out.push(self.get(index));
        }
        out
    }
}

/// Writes sections into one blob.
pub struct BlobWriter {
    bytes: Vec<u8>,
}

macro_rules! put_numbers {
    ($name:ident, $ty:ty) => {
        pub fn $name(&mut self, values: &[$ty]) {
            self.section_len(values.len() * std::mem::size_of::<$ty>());
            for value in values {
                self.bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
    };
}

macro_rules! take_numbers {
    ($name:ident, $ty:ty) => {
        pub fn $name(
            &mut self,
            what: &'static str,
            expected: usize,
        ) -> Result<Vec<$ty>, ColumnarError> {
            const SIZE: usize = std::mem::size_of::<$ty>();
            let section = self.section(what)?;
            if section.len() != expected * SIZE {
                return Err(ColumnarError::Length {
                    what,
                    found: section.len() / SIZE,
                    expected,
                });
            }
            Ok(section
                .chunks_exact(SIZE)
                .map(|chunk| {
                    <$ty>::from_le_bytes(chunk.try_into().expect("chunk has the type's size"))
                })
                .collect())
        }
    };
}

impl BlobWriter {
    pub fn new(magic: &[u8; 4]) -> Self {
        let mut bytes = Vec::with_capacity(1 << 16);
        bytes.extend_from_slice(magic);
        Self { bytes }
    }

    fn section_len(&mut self, len: usize) {
        self.bytes.extend_from_slice(&(len as u32).to_le_bytes());
    }

    pub fn put_u64(&mut self, value: u64) {
        self.put_u64s(&[value]);
    }

    put_numbers!(put_u8s, u8);
    put_numbers!(put_u16s, u16);
    put_numbers!(put_u32s, u32);
    put_numbers!(put_i32s, i32);
    put_numbers!(put_u64s, u64);
    put_numbers!(put_i64s, i64);
    put_numbers!(put_f32s, f32);

    pub fn put_strs(&mut self, column: &StrColumn) {
        self.put_u32s(&column.offsets);
        self.section_len(column.bytes.len());
        self.bytes.extend_from_slice(column.bytes.as_bytes());
    }

    pub fn put_lists(&mut self, column: &ListColumn) {
        self.put_u32s(&column.offsets);
        self.put_u32s(&column.values);
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads the sections of a blob in the order they were written.
pub struct BlobReader<'a> {
    rest: &'a [u8],
}

impl<'a> BlobReader<'a> {
    pub fn new(
        bytes: &'a [u8],
        magic: &[u8; 4],
        expected: &'static str,
    ) -> Result<Self, ColumnarError> {
        match bytes.split_first_chunk::<4>() {
            Some((found, rest)) if found == magic => Ok(Self { rest }),
            _ => Err(ColumnarError::BadMagic { expected }),
        }
    }

    /// Whether every section was read: a column added at the end of a layout is absent
    /// from blobs written before it.
    pub fn is_at_end(&self) -> bool {
        self.rest.is_empty()
    }

    fn section(&mut self, what: &'static str) -> Result<&'a [u8], ColumnarError> {
        let (len, rest) = self
            .rest
            .split_first_chunk::<4>()
            .ok_or(ColumnarError::Truncated { what })?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(ColumnarError::Truncated { what });
        }
        let (section, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(section)
    }

    pub fn take_u64(&mut self, what: &'static str) -> Result<u64, ColumnarError> {
        Ok(self.take_u64s(what, 1)?[0])
    }

    take_numbers!(take_u8s, u8);
    take_numbers!(take_u16s, u16);
    take_numbers!(take_u32s, u32);
    take_numbers!(take_i32s, i32);
    take_numbers!(take_u64s, u64);
    take_numbers!(take_i64s, i64);
    take_numbers!(take_f32s, f32);

    pub fn take_strs(
        &mut self,
        what: &'static str,
        expected: usize,
    ) -> Result<StrColumn, ColumnarError> {
        let offsets = self.take_u32s(what, expected + 1)?;
        let bytes = self.section(what)?;
        let bytes = std::str::from_utf8(bytes)
            .map_err(|_| ColumnarError::Utf8 { what })?
            .to_owned();
        let monotonic = offsets.windows(2).all(|pair| pair[0] <= pair[1]);
        let in_bounds =
            offsets.first() == Some(&0) && offsets.last().copied() == Some(bytes.len() as u32);
        let on_boundaries = offsets
            .iter()
            .all(|&offset| bytes.is_char_boundary(offset as usize));
        if !(monotonic && in_bounds && on_boundaries) {
            return Err(ColumnarError::Truncated { what });
        }
        Ok(StrColumn { offsets, bytes })
    }

    pub fn take_lists(
        &mut self,
        what: &'static str,
        expected: usize,
    ) -> Result<ListColumn, ColumnarError> {
        let offsets = self.take_u32s(what, expected + 1)?;
        let section = self.section(what)?;
        let values: Vec<u32> = section
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes(chunk.try_into().expect("four bytes")))
            .collect();
        let valid = offsets.first() == Some(&0)
            && offsets.last().copied() == Some(values.len() as u32)
            && offsets.windows(2).all(|pair| pair[0] <= pair[1]);
        if !valid {
            return Err(ColumnarError::Truncated { what });
        }
        Ok(ListColumn { offsets, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_column_is_an_empty_one() {
        let mut strings = StrColumn::default();
        assert_eq!(strings, StrColumn::new());
        strings.push("渋谷区");
        assert_eq!(strings.get(0), "渋谷区");
        let mut lists = ListColumn::default();
        assert_eq!(lists, ListColumn::new());
        lists.push(&[7, 8]);
        assert_eq!(lists.get(0), &[7, 8]);
    }

    #[test]
    fn sections_round_trip() {
        let mut strings = StrColumn::new();
        strings.push("東京都");
        strings.push("");
        strings.push("渋谷区");
        let mut lists = ListColumn::new();
        lists.push(&[100, 103]);
        lists.push(&[]);
        lists.push(&[7]);
        let mut writer = BlobWriter::new(b"TEST");
        writer.put_u64(3);
        writer.put_i64s(&[-1, 0, i64::MAX]);
        writer.put_strs(&strings);
        writer.put_lists(&lists);
        writer.put_f32s(&[1.5, f32::NAN, -2.0]);
        let blob = writer.finish();

        let mut reader = BlobReader::new(&blob, b"TEST", "test").unwrap();
        let n = reader.take_u64("n").unwrap() as usize;
        assert_eq!(reader.take_i64s("i", n).unwrap(), vec![-1, 0, i64::MAX]);
        assert_eq!(reader.take_strs("s", n).unwrap(), strings);
        assert_eq!(reader.take_lists("l", n).unwrap(), lists);
        let floats = reader.take_f32s("f", n).unwrap();
        assert!(floats[1].is_nan());
    }

    #[test]
    fn truncated_or_foreign_blobs_are_errors_not_panics() {
        let mut writer = BlobWriter::new(b"TEST");
        writer.put_u32s(&[1, 2, 3]);
        let blob = writer.finish();
        assert!(BlobReader::new(&blob, b"XXXX", "test").is_err());
        let mut reader = BlobReader::new(&blob[..blob.len() - 2], b"TEST", "test").unwrap();
        assert!(reader.take_u32s("u", 3).is_err());
        let mut reader = BlobReader::new(&blob, b"TEST", "test").unwrap();
        assert!(reader.take_u32s("u", 4).is_err());
    }
}
