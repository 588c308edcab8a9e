//! Opening an input file: encoding detection, CSV reading, header lookup, row access.
//!
//! Input is RFC 4180 CSV with a header row, in UTF-8 (with or without BOM) or
//! Shift_JIS/CP932. Leading blank rows before the header (as in some exports) are skipped,
//! and columns are found by header name, in any order.
//!
//! The `csv` crate ends a record silently at the end of the input, even inside a quoted
//! field, and its line numbers count from the end of the previous record. `RecordTracker`
//! reads the decoded text just before the CSV reader and follows the same grammar, so each
//! row carries the line where it starts and whether the file was cut off inside it. Every
//! row's cells are also counted against the encoding: a file that decodes into mostly bad
//! text is refused at its end (see [`MAX_BAD_TEXT_CELLS_PERCENT`]).

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};
use memchr::{memchr2, memchr3, memmem};

use super::IngestError;

/// Which encoding to read a file in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncodingChoice {
    /// UTF-8 when the start of the file is valid UTF-8 (or has a BOM), else Shift_JIS.
    #[default]
    Auto,
    #[serde(rename = "utf-8")]
    Utf8,
    /// Shift_JIS with the Windows (CP932) extensions.
    #[serde(rename = "shift_jis")]
    ShiftJis,
}

/// How many bytes are inspected to detect the encoding.
const SNIFF_BYTES: usize = 64 * 1024;

/// A file is refused when more than this share (in percent) of its text cells (cells with
/// a non-ASCII byte: ASCII reads the same in both encodings) are not valid in the encoding
/// it is read in. Measured: Shift_JIS read as UTF-8 spoils 100 % of them (generated feed),
/// UTF-8 read as Shift_JIS 77 % (generated feed) and 50–100 % (the real masters and
/// keywords); a correct file has none, or a stray few.
pub const MAX_BAD_TEXT_CELLS_PERCENT: u64 = 10;

/// A file is refused only with at least this many bad text cells, so that one stray bad
/// cell in a small file is a warning, never a refusal.
pub const MIN_BAD_TEXT_CELLS: u64 = 3;

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

/// Where [`RecordTracker`] is in the grammar of `csv_core`'s default reader (comma, `"`
/// quotes doubled inside quoted fields, `\r`, `\n` or `\r\n` ending a record, empty lines
/// skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanState {
    /// Between records: line ends are skipped, any other byte starts a record.
    RecordStart,
    /// At the first byte of a field, where a `"` opens a quoted field.
    FieldStart,
    /// Inside an unquoted field, where a `"` is literal; commas are not visited: the byte
    /// after one is a field start, recognised when a `"` follows it.
    Unquoted,
    Quoted,
    /// Just after a `"` inside a quoted field: `""` is a literal quote, else the quotes end.
    QuoteInQuoted,
}

/// Follows record boundaries and quoting in the decoded text read through it, ahead of the
/// CSV reader (which buffers), and queues the line where each record starts.
struct RecordTracker<R> {
    inner: R,
    state: ScanState,
    /// The line being read (1-based): one more than the `\n` bytes seen so far.
    line: u64,
    /// The last byte of the previous chunk, to tell whether a chunk starts a field.
    previous: u8,
    /// Start lines of the records seen but not yet taken by [`CsvSource::next_row`].
    starts: VecDeque<u64>,
    at_end: bool,
    ended_inside_quotes: bool,
    /// The input ended inside a record, with no line break after its last byte.
    ended_mid_record: bool,
}

impl<R> RecordTracker<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            state: ScanState::RecordStart,
            line: 1,
            previous: b'\n',
            starts: VecDeque::new(),
            at_end: false,
            ended_inside_quotes: false,
            ended_mid_record: false,
        }
    }

    /// Advances over `chunk`. Long runs are skipped with `memchr`: inside a quoted field
    /// only `"` and `\n` matter, inside an unquoted one only `"`, `\r` and `\n`.
    fn scan(&mut self, chunk: &[u8]) {
        let Some(&last) = chunk.last() else {
            return;
        };
        let mut at = 0;
        while at < chunk.len() {
            match self.state {
                ScanState::RecordStart => match chunk[at] {
                    b'\n' => {
                        self.line += 1;
                        at += 1;
                    }
                    b'\r' => at += 1,
                    _ => {
                        self.starts.push_back(self.line);
                        self.state = ScanState::FieldStart;
                    }
                },
                ScanState::FieldStart => {
                    if chunk[at] == b'"' {
                        self.state = ScanState::Quoted;
                        at += 1;
                    } else {
                        self.state = ScanState::Unquoted;
                    }
                }
                ScanState::Unquoted => {
                    let Some(offset) = memchr3(b'"', b'\n', b'\r', &chunk[at..]) else {
                        break;
                    };
                    let found = at + offset;
                    match chunk[found] {
                        b'"' => {
                            let before = if found > 0 {
                                chunk[found - 1]
                            } else {
                                self.previous
                            };
                            if before == b',' {
                                self.state = ScanState::Quoted;
                            }
                        }
                        b'\n' => {
                            self.line += 1;
                            self.state = ScanState::RecordStart;
                        }
                        _ => self.state = ScanState::RecordStart,
                    }
                    at = found + 1;
                }
                ScanState::Quoted => {
                    let Some(offset) = memchr2(b'"', b'\n', &chunk[at..]) else {
                        break;
                    };
                    let found = at + offset;
                    if chunk[found] == b'"' {
                        self.state = ScanState::QuoteInQuoted;
                    } else {
                        self.line += 1;
                    }
                    at = found + 1;
                }
                ScanState::QuoteInQuoted => {
                    self.state = match chunk[at] {
                        b'"' => ScanState::Quoted,
                        b',' => ScanState::FieldStart,
                        b'\n' => {
                            self.line += 1;
                            ScanState::RecordStart
                        }
                        b'\r' => ScanState::RecordStart,
                        _ => ScanState::Unquoted,
                    };
                    at += 1;
                }
            }
        }
        self.previous = last;
    }
}

impl<R: Read> Read for RecordTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.scan(&buf[..n]);
        } else if !buf.is_empty() {
            self.at_end = true;
            self.ended_inside_quotes = self.state == ScanState::Quoted;
            self.ended_mid_record = self.state != ScanState::RecordStart;
        }
        Ok(n)
    }
}

/// Decides the encoding from the first bytes of a file: UTF-8 when they have a BOM or are
/// valid UTF-8, else the encoding with fewer undecodable sequences in them, so that a UTF-8
/// export with one stray Shift_JIS cell is still read as UTF-8.
pub fn detect_encoding(sample: &[u8]) -> &'static Encoding {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return UTF_8;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => UTF_8,
        // The sample may end inside a multi-byte character; that is not an error.
        Err(error) if error.error_len().is_none() => UTF_8,
        Err(_) => {
            let utf8_errors = sample
                .utf8_chunks()
                .filter(|chunk| !chunk.invalid().is_empty())
                .count();
            let (decoded, _) = SHIFT_JIS.decode_without_bom_handling(sample);
            let shift_jis_errors = decoded.matches('\u{FFFD}').count();
            if shift_jis_errors < utf8_errors {
                SHIFT_JIS
            } else {
                UTF_8
            }
        }
    }
}

/// Whether the start of a file reads cleanly in `encoding` (a character cut by the end of
/// the sample is not an error).
fn sample_reads_cleanly(sample: &[u8], encoding: &'static Encoding) -> bool {
    let sample = sample.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(sample);
    if encoding == UTF_8 {
        return match std::str::from_utf8(sample) {
            Ok(_) => true,
            Err(error) => error.error_len().is_none(),
        };
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let Some(capacity) = decoder.max_utf8_buffer_length_without_replacement(sample.len()) else {
        return false;
    };
    let mut decoded = vec![0; capacity];
    let (result, _, _) = decoder.decode_to_utf8_without_replacement(sample, &mut decoded, false);
    matches!(result, encoding_rs::DecoderResult::InputEmpty)
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

/// How many cells of a file are text (hold a non-ASCII byte) and how many of those are bad
/// in the encoding the file is read in.
#[derive(Debug, Default, Clone, Copy)]
struct TextCells {
    text: u64,
    bad: u64,
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
    /// Whether the encoding was given (`--encoding`) rather than detected.
    forced: bool,
    /// The start of the file, to name the encoding that reads it when this one does not.
    sample: Vec<u8>,
    cells: TextCells,
    /// U+FFFD, what the Shift_JIS decoder puts in place of bytes it cannot read.
    replacement: memmem::Finder<'static>,
    reader: csv::Reader<RecordTracker<Box<dyn Read + Send>>>,
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
        let forced = encoding != EncodingChoice::Auto;
        let encoding = match encoding {
            EncodingChoice::Auto => detect_encoding(&sample),
            EncodingChoice::Utf8 => UTF_8,
            EncodingChoice::ShiftJis => SHIFT_JIS,
        };
        let kept_sample = sample.clone();
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
            .from_reader(RecordTracker::new(decoded));
        let mut record = ByteRecord::new();
        let mut leading_blank_rows = 0;
        let header_line = loop {
            let Some(line) = read_record(&mut reader, &mut record, path)? else {
                return Err(IngestError::Empty {
                    path: path.to_path_buf(),
                });
            };
            if is_blank(&record) {
                leading_blank_rows += 1;
                continue;
            }
            break line;
        };
        // After decoding, every encoding is UTF-8 for the cells.
        let header = Header::new(&record, UTF_8);
        Ok(Self {
            path: path.to_path_buf(),
            encoding,
            header,
            header_line,
            leading_blank_rows,
            file_size,
            forced,
            sample: kept_sample,
            cells: TextCells::default(),
            replacement: memmem::Finder::new("\u{FFFD}".as_bytes()),
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

    /// Reads the next data row into `row`, with its line and shape; `false` at the end of
    /// the file. At the end, a file whose text mostly does not decode is refused
    /// ([`IngestError::WrongEncoding`]).
    pub fn next_row(&mut self, row: &mut Row) -> Result<bool, IngestError> {
        let Some(line) = read_record(&mut self.reader, &mut row.record, &self.path)? else {
            self.check_encoding()?;
            return Ok(false);
        };
        row.line = line;
        let tracker = self.reader.get_ref();
        // The tracker reads ahead of the CSV reader and sees the end of the input only when
        // the reader asks for more after the last record's bytes: a record returned then,
        // with none queued after it, is the last, and holds the end of the file.
        let is_last = tracker.at_end && tracker.starts.is_empty();
        let fields = row.record.len();
        let header = self.header.names().len();
        // A last record short of fields with no line break after it was cut off too: a
        // complete last row without a final line break has all its fields.
        let cut_short = tracker.ended_mid_record && row.record.len() < self.header.names().len();
        row.shape = if is_last && (tracker.ended_inside_quotes || cut_short) {
            RowShape::CutOff
        } else if fields > header {
            RowShape::Long { fields, header }
        } else if fields < header {
            RowShape::Short { fields, header }
        } else {
            RowShape::Complete
        };
        self.count_text_cells(row);
        Ok(true)
    }

    /// Counts the row's text cells and its bad ones, and notes where the bad ones are. The
    /// whole record is checked first, in one pass: cell by cell only when it holds something
    /// bad, which a good file's records almost never do.
    fn count_text_cells(&mut self, row: &mut Row) {
        row.bad_text.clear();
        let bytes = row.record.as_slice();
        if bytes.is_ascii() {
            return;
        }
        let is_bad = |cell: &[u8]| {
            if self.encoding == UTF_8 {
                // encoding_rs validates with SIMD, several times faster than the standard
                // library on Japanese text: this check reads every byte of the feed.
                Encoding::utf8_valid_up_to(cell) != cell.len()
            } else {
                self.replacement.find(cell).is_some()
            }
        };
        // A record whose bytes are all good has no bad cell, but for a contrived one with a
        // character split across two cells (the record's bytes join its cells without the
        // commas), whose halves then read as U+FFFD unreported.
        let record_is_bad = is_bad(bytes);
        let mut text = 0;
        for (position, cell) in row.record.iter().enumerate() {
            if cell.is_ascii() {
                continue;
            }
            text += 1;
            if record_is_bad && is_bad(cell) {
                row.bad_text.push(position);
            }
        }
        self.cells.text += text;
        self.cells.bad += row.bad_text.len() as u64;
    }

    /// Refuses the file when too many of its text cells are bad in its encoding, naming the
    /// other encoding when that one reads the start of the file cleanly.
    fn check_encoding(&self) -> Result<(), IngestError> {
        let TextCells { text, bad } = self.cells;
        if bad < MIN_BAD_TEXT_CELLS || bad * 100 <= MAX_BAD_TEXT_CELLS_PERCENT * text {
            return Ok(());
        }
        let other = if self.encoding == UTF_8 {
            SHIFT_JIS
        } else {
            UTF_8
        };
        let hint = if sample_reads_cleanly(&self.sample, other) {
            let auto_agrees = self.forced && detect_encoding(&self.sample) == other;
            format!(
                "the file looks like {}; hint: pass --encoding {}{}",
                other.name(),
                encoding_flag(other),
                if auto_agrees {
                    " or leave --encoding auto"
                } else {
                    ""
                }
            )
        } else {
            "neither UTF-8 nor Shift_JIS reads it cleanly; hint: convert the file to UTF-8"
                .to_owned()
        };
        Err(IngestError::WrongEncoding {
            path: self.path.clone(),
            encoding: self.encoding.name(),
            how: if self.forced {
                "given with --encoding"
            } else {
                "detected from the start of the file"
            },
            bad_cells: bad,
            text_cells: text,
            hint,
        })
    }

    pub fn encoding_name(&self) -> &'static str {
        self.encoding.name()
    }
}

/// The `--encoding` value that selects `encoding`.
fn encoding_flag(encoding: &'static Encoding) -> &'static str {
    if encoding == UTF_8 {
        "utf-8"
    } else {
        "shift_jis"
    }
}

/// Reads one record; returns the line where it starts, or `None` at the end of the file.
fn read_record(
    reader: &mut csv::Reader<RecordTracker<Box<dyn Read + Send>>>,
    record: &mut ByteRecord,
    path: &Path,
) -> Result<Option<u64>, IngestError> {
    let more = reader
        .read_byte_record(record)
        .map_err(|source| IngestError::Csv {
            path: path.to_path_buf(),
            line: source.position().map_or(0, |p| p.line()),
            message: source.to_string(),
        })?;
    if !more {
        return Ok(None);
    }
    // The tracker has seen every record the reader returns; the CSV reader's own position is
    // only a fallback (it counts from the end of the previous record).
    let line = reader
        .get_mut()
        .starts
        .pop_front()
        .unwrap_or_else(|| record.position().map_or(0, |p| p.line()));
    Ok(Some(line))
}

fn is_blank(record: &ByteRecord) -> bool {
    record
        .iter()
        .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
}

/// How a row's fields compare with the header (SPEC §2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowShape {
    #[default]
    Complete,
    /// Fewer fields than the header: the missing cells are no value.
    Short { fields: usize, header: usize },
    /// More fields than the header: which cell belongs to which column is unknown.
    Long { fields: usize, header: usize },
    /// The file ends inside this row, inside a quoted field or short of fields with no line
    /// break after it: its last cell is partial.
    CutOff,
}

/// One data row, reused across reads.
#[derive(Debug, Default)]
pub struct Row {
    pub record: ByteRecord,
    /// Line of the file where the row starts (1-based, the header counted).
    pub line: u64,
    pub shape: RowShape,
    /// Positions of the cells that are not valid in the file's encoding (they read with
    /// U+FFFD in place of the bad bytes); almost always empty.
    pub bad_text: Vec<usize>,
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
    use proptest::prelude::*;

    /// Reads `text` through a tracker in chunks of `chunk` bytes, as the CSV reader would;
    /// returns the start line of every record and whether the text ended inside quotes.
    fn track(text: &[u8], chunk: usize) -> (Vec<u64>, bool) {
        let mut tracker = RecordTracker::new(text);
        let mut buf = vec![0; chunk];
        while tracker.read(&mut buf).unwrap_or(0) > 0 {}
        (
            tracker.starts.into_iter().collect(),
            tracker.ended_inside_quotes,
        )
    }

    /// The start lines of the records the `csv` crate itself finds: each record's own first
    /// byte is found by skipping the line ends after the previous record.
    fn csv_start_lines(text: &[u8]) -> Vec<u64> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut record = ByteRecord::new();
        let mut lines = Vec::new();
        while reader.read_byte_record(&mut record).unwrap_or(false) {
            let mut start = record.position().map_or(0, |p| p.byte()) as usize;
            while matches!(text.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            lines.push(1 + text[..start].iter().filter(|&&b| b == b'\n').count() as u64);
        }
        lines
    }

    /// Whether `text` ends inside a quoted field, byte by byte after `csv_core`'s NFA.
    fn ends_inside_quotes(text: &[u8]) -> bool {
        #[derive(PartialEq)]
        enum State {
            Start,
            Field,
            Quoted,
            Quote,
        }
        let mut state = State::Start;
        for &byte in text {
            state = match (state, byte) {
                (State::Start, b'"') => State::Quoted,
                (State::Start | State::Field | State::Quote, b',' | b'\r' | b'\n') => State::Start,
                (State::Start | State::Field, _) => State::Field,
                (State::Quoted, b'"') => State::Quote,
                (State::Quoted, _) => State::Quoted,
                (State::Quote, b'"') => State::Quoted,
                (State::Quote, _) => State::Field,
            };
        }
        state == State::Quoted
    }

    #[test]
    fn records_start_on_the_line_of_their_first_byte_with_lf_or_crlf() {
        let lf = "h1,h2\na,\"one\ntwo\nthree\"\n\nb,c\n\"x\"\"y\",z\n";
        let crlf = lf.replace('\n', "\r\n");
        for text in [lf.to_owned(), crlf] {
            for chunk in [1, 3, 1 << 16] {
                assert_eq!(
                    track(text.as_bytes(), chunk),
                    (vec![1, 2, 6, 7], false),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_literal_and_does_not_hide_the_line_end() {
        let text = b"a,b\"c,d\ne,f\n";
        assert_eq!(track(text, 1 << 16), (vec![1, 2], false));
    }

    #[test]
    fn a_file_ending_inside_a_quoted_field_is_seen_as_cut_off() {
        assert!(track(b"a,b\n1,\"partial, text\nmore", 4).1);
        assert!(
            !track(b"a,b\n1,\"closed\"", 4).1,
            "a closed quote at the end is whole"
        );
        assert!(
            !track(b"a,b\n1,\"say \"\"hi\"\"\"\n", 4).1,
            "doubled quotes are escaped"
        );
        assert!(
            track(b"a,b\n1,\"say \"\"", 4).1,
            "an escaped quote does not close the field"
        );
    }

    #[test]
    fn a_sample_reads_cleanly_only_in_its_own_encoding() {
        let text = "job_id,company_name\n1,株式会社サンプル（東京）\n";
        let (sjis, _, _) = SHIFT_JIS.encode(text);
        assert!(sample_reads_cleanly(text.as_bytes(), UTF_8));
        assert!(!sample_reads_cleanly(text.as_bytes(), SHIFT_JIS));
        assert!(sample_reads_cleanly(&sjis, SHIFT_JIS));
        assert!(!sample_reads_cleanly(&sjis, UTF_8));
        // A sample cut in the middle of a two-byte character still reads cleanly.
        assert!(sample_reads_cleanly(&sjis[..sjis.len() - 4], SHIFT_JIS));
    }

    proptest! {
        #[test]
        fn the_tracker_finds_the_records_and_lines_of_the_csv_reader(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(b'"'), Just(b'\r'), Just(b'\n'), Just(0xE3)],
                0..120,
            ),
            chunk in 1usize..9,
        ) {
            let (starts, inside_quotes) = track(&bytes, chunk);
            prop_assert_eq!(starts, csv_start_lines(&bytes));
            prop_assert_eq!(inside_quotes, ends_inside_quotes(&bytes));
        }
    }

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

    #[test]
    fn utf8_with_one_stray_shift_jis_cell_is_still_detected_as_utf8() {
        let (stray, _, _) = SHIFT_JIS.encode("テスト");
        let mut sample = "job_id,会社,仕事\n1,株式会社サンプル,ホールスタッフ\n2,"
            .as_bytes()
            .to_vec();
        sample.extend_from_slice(&stray);
        sample.extend_from_slice(",キッチンスタッフ\n".as_bytes());
        assert_eq!(detect_encoding(&sample), UTF_8);
    }
}
