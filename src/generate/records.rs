//! How the generator writes CSV: the buffered file writer, records written field by field against
//! their header, integers formatted without allocating.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

pub(super) const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Formats integers without allocating.
pub(super) struct Digits {
    pub(super) buffer: [u8; 20],
}

impl Digits {
    pub(super) fn new() -> Self {
        Self { buffer: [0; 20] }
    }

    pub(super) fn format(&mut self, mut value: u64) -> &[u8] {
        let mut start = self.buffer.len();
        loop {
            start -= 1;
            self.buffer[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        &self.buffer[start..]
    }
}

pub(super) fn csv_writer(path: &Path) -> io::Result<csv::Writer<BufWriter<File>>> {
    let file = File::create(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create {}: {error}", path.display()),
        )
    })?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)))
}

pub(super) fn finish(writer: csv::Writer<BufWriter<File>>) -> io::Result<BufWriter<File>> {
    writer.into_inner().map_err(|error| error.into_error())
}

/// Writes one CSV record field by field; in debug builds it checks each field against the header.
pub(super) struct RecordWriter<'w> {
    pub(super) csv: &'w mut csv::Writer<BufWriter<File>>,
    pub(super) columns: &'static [&'static str],
    pub(super) position: usize,
}

impl RecordWriter<'_> {
    pub(super) fn field(&mut self, column: &str, value: impl AsRef<[u8]>) -> io::Result<()> {
        debug_assert_eq!(self.columns[self.position], column, "column out of order");
        self.position += 1;
        self.csv.write_field(value).map_err(io::Error::from)
    }

    pub(super) fn end(&mut self) -> io::Result<()> {
        debug_assert_eq!(self.position, self.columns.len(), "record is incomplete");
        self.position = 0;
        self.csv
            .write_record(None::<&[u8]>)
            .map_err(io::Error::from)
    }
}

pub(super) fn flag(value: bool) -> &'static str {
    if value { "1" } else { "0" }
}

/// `a` then `b`; a wrong `N` fails at compile time.
pub(super) const fn concat_columns<const A: usize, const B: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[A + j] = b[j];
        j += 1;
    }
    assert!(A + B == N, "column counts do not add up");
    out
}
