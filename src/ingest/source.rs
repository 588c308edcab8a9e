//! Opening an input file: encoding detection, CSV reading, header lookup, row access.
//!
//! Input is RFC 4180 CSV with a header row, in UTF-8 (with or without BOM) or
//! Shift_JIS/CP932. Leading blank rows before the header (as in some exports) are skipped,
//! and columns are found by header name, in any order.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};

use super::IngestError;

/// Which encoding to read a file in.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum EncodingChoice {
    /// UTF-8 when the start of the file is valid UTF-8 (or has a BOM), else Shift_JIS.
    #[default]
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    #[serde(rename = "utf-8")]
    Utf8,
    /// Shift_JIS with the Windows (CP932) extensions.
    #[value(
        name = "shift_jis",
        alias = "sjis",
        alias = "cp932",
        alias = "shift-jis"
    )]
    #[serde(rename = "shift_jis")]
    ShiftJis,
}

/// How many bytes are inspected to detect the encoding.
const SNIFF_BYTES: usize = 64 * 1024;

/// Counts the bytes read through it and reports them to a progress callback.
struct CountingReader<R> {
    inner: R,
    read: u64,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(progress) = self.progress.as_mut() {
            progress(self.read);
        }
        Ok(n)
    }
}

/// Decides the encoding from the first bytes of a file.
pub fn detect_encoding(sample: &[u8]) -> &'static Encoding {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return UTF_8;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => UTF_8,
        // The sample may end inside a multi-byte character; that is not an error.
        Err(error) if error.error_len().is_none() => UTF_8,
        Err(_) => SHIFT_JIS,
    }
}

/// The columns of a file's header, by name.
#[derive(Debug, Clone)]
pub struct Header {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    fn new(record: &ByteRecord, encoding: &'static Encoding) -> Self {
        let names: Vec<String> = record
            .iter()
            .map(|cell| {
                let (text, _) = encoding.decode_without_bom_handling(cell);
                text.trim().trim_start_matches('\u{feff}').to_owned()
            })
            .collect();
        let mut index = HashMap::new();
        for (position, name) in names.iter().enumerate() {
            if !name.is_empty() {
                index.entry(name.clone()).or_insert(position);
            }
        }
        Self { names, index }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Non-empty column names, in file order.
    pub fn named(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(|name| !name.is_empty())
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The names in `required` that the header lacks.
    pub fn missing<'a>(&self, required: &[&'a str]) -> Vec<&'a str> {
        required
            .iter()
            .copied()
            .filter(|name| !self.has(name))
            .collect()
    }
}

/// An open CSV input positioned after its header row.
pub struct CsvSource {
    pub path: PathBuf,
    pub encoding: &'static Encoding,
    pub header: Header,
    /// Line of the header row (1-based).
    pub header_line: u64,
    /// Blank rows before the header.
    pub leading_blank_rows: u64,
    pub file_size: u64,
    reader: csv::Reader<Box<dyn Read + Send>>,
}

impl CsvSource {
    /// Opens `path`, detects (or takes) its encoding and reads its header.
    pub fn open(
        path: &Path,
        encoding: EncodingChoice,
        progress: Option<Box<dyn FnMut(u64) + Send>>,
    ) -> Result<Self, IngestError> {
        let io_error = |source: io::Error| IngestError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_error)?;
        let file_size = file.metadata().map_err(io_error)?.len();
        let mut sample = Vec::with_capacity(SNIFF_BYTES);
        (&mut file)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut sample)
            .map_err(io_error)?;
        let encoding = match encoding {
            EncodingChoice::Auto => detect_encoding(&sample),
            EncodingChoice::Utf8 => UTF_8,
            EncodingChoice::ShiftJis => SHIFT_JIS,
        };
        if encoding == UTF_8 && sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
            sample.drain(..3);
        }
        let raw = CountingReader {
            inner: io::Cursor::new(sample).chain(file),
            read: 0,
            progress,
        };
        let decoded: Box<dyn Read + Send> = if encoding == UTF_8 {
            Box::new(raw)
        } else {
            Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(encoding))
                    .bom_override(false)
                    .build(raw),
            )
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(decoded);
        let mut record = ByteRecord::new();
        let mut leading_blank_rows = 0;
        loop {
            let more = reader
                .read_byte_record(&mut record)
                .map_err(|source| IngestError::Csv {
                    path: path.to_path_buf(),
                    line: source.position().map_or(0, |p| p.line()),
                    message: source.to_string(),
                })?;
            if !more {
                return Err(IngestError::Empty {
                    path: path.to_path_buf(),
                });
            }
            if is_blank(&record) {
                leading_blank_rows += 1;
                continue;
            }
            break;
        }
        let header_line = record.position().map_or(1, |p| p.line());
        // After decoding, every encoding is UTF-8 for the cells.
        let header = Header::new(&record, UTF_8);
        Ok(Self {
            path: path.to_path_buf(),
            encoding,
            header,
            header_line,
            leading_blank_rows,
            file_size,
            reader,
        })
    }

    /// Fails with a clear error naming the missing columns and the columns found.
    pub fn require(&self, kind: &str, required: &[&str]) -> Result<(), IngestError> {
        let missing = self.header.missing(required);
        if missing.is_empty() {
            return Ok(());
        }
        Err(IngestError::MissingColumns {
            path: self.path.clone(),
            kind: kind.to_owned(),
            missing: missing.iter().map(|s| (*s).to_owned()).collect(),
            found: self.header.named().map(str::to_owned).collect(),
        })
    }

    /// Reads the next data row into `row`; `false` at the end of the file.
    pub fn next_row(&mut self, row: &mut Row) -> Result<bool, IngestError> {
        let more = self
            .reader
            .read_byte_record(&mut row.record)
            .map_err(|source| IngestError::Csv {
                path: self.path.clone(),
                line: source.position().map_or(0, |p| p.line()),
                message: source.to_string(),
            })?;
        row.line = row.record.position().map_or(0, |p| p.line());
        Ok(more)
    }

    pub fn encoding_name(&self) -> &'static str {
        self.encoding.name()
    }
}

fn is_blank(record: &ByteRecord) -> bool {
    record
        .iter()
        .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
}

/// One data row, reused across reads.
#[derive(Debug, Default)]
pub struct Row {
    pub record: ByteRecord,
    pub line: u64,
}

/// Why a cell could not be read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Row {
    pub fn is_blank(&self) -> bool {
        is_blank(&self.record)
    }

    /// The raw cell at `position`; empty where the row is shorter than the header.
    pub fn bytes(&self, position: Option<usize>) -> &[u8] {
        position.and_then(|p| self.record.get(p)).unwrap_or(&[])
    }

    /// The cell at `position` as text.
    pub fn text(&self, position: Option<usize>) -> Result<&str, InvalidUtf8> {
        std::str::from_utf8(self.bytes(position)).map_err(|_| InvalidUtf8)
    }

    pub fn len(&self) -> usize {
        self.record.len()
    }

    pub fn is_empty(&self) -> bool {
        self.record.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_or_without_bom_and_shift_jis_are_told_apart() {
        assert_eq!(detect_encoding("job_id,会社\n".as_bytes()), UTF_8);
        assert_eq!(detect_encoding(b"\xEF\xBB\xBFjob_id"), UTF_8);
        let (sjis, _, _) = SHIFT_JIS.encode("job_id,株式会社サンプル\n");
        assert_eq!(detect_encoding(&sjis), SHIFT_JIS);
        // A sample cut in the middle of a UTF-8 character is still UTF-8.
        let text = "東京都".as_bytes();
        assert_eq!(detect_encoding(&text[..text.len() - 1]), UTF_8);
    }
}
