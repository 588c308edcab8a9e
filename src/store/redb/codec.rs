//! How the redb store encodes what it keeps: feed rows as zstd frames with a dictionary
//! per feed header, the current snapshot's [`JobColumns`], a day of [`ActionColumns`]
//! (LZ4) and a date's [`JobScoreTable`] as blobs of columns, and the schema-1 row decoder
//! the migration needs. Nothing outside `store/redb` sees these forms.

use std::borrow::Cow;

use crate::columnar::{BlobReader, BlobWriter, ColumnarError, StrColumn};
use crate::domain::JobColumns;
use crate::domain::action::{ActionColumns, ActionDay, NO_REF};
use crate::domain::batch::JobScoreTable;
use crate::domain::job::JobRow;
use crate::store::{PackedRow, RowPacker, RowPacking};

const JOB_COLUMNS_MAGIC: &[u8; 4] = b"MJC1";
const ACTION_COLUMNS_MAGIC: &[u8; 4] = b"MAC1";
const JOB_SCORES_MAGIC: &[u8; 4] = b"MJS1";

/// A stable id of a header list (FNV-1a, 64 bits, over the names joined by U+001F).
pub fn header_id(names: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            hash = (hash ^ 0x1f).wrapping_mul(0x0100_0000_01b3);
        }
        for byte in name.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// How a stored feed row is compressed (its first byte).
const ROW_ZSTD: u8 = 1;
const ROW_ZSTD_DICTIONARY: u8 = 2;

/// zstd level of stored rows: level 3 with a dictionary is about 5× smaller than the row on
/// generated feeds and compresses at over 150 MB/s per core.
const ROW_LEVEL: i32 = 3;

/// Rows sampled from a feed to train its dictionary, and the dictionary's size.
pub const DICTIONARY_SAMPLES: usize = 2_000;
const DICTIONARY_BYTES: usize = 64 * 1024;

/// Trains a row dictionary on sample rows ([`JobRow::as_packed`]); `None` when
/// there are too few or too uniform samples to train one (the rows are then compressed
/// without).
pub fn train_row_dictionary(samples: &[Vec<u8>]) -> Option<Vec<u8>> {
    if samples.len() < 64 {
        return None;
    }
    zstd::dict::from_samples(samples, DICTIONARY_BYTES).ok()
}

/// Compresses feed rows for storage: zstd with the feed's dictionary (rows of 2 KB of
/// Japanese text share most of their words with the other rows, which a per-row
/// compressor alone cannot use), or without one for feeds too small to train one.
pub struct RowEncoder {
    header_id: u64,
    compressor: zstd::bulk::Compressor<'static>,
    with_dictionary: bool,
}

impl RowEncoder {
    pub fn new(header_id: u64, dictionary: Option<&[u8]>) -> Self {
        let compressor = match dictionary {
            Some(dictionary) => zstd::bulk::Compressor::with_dictionary(ROW_LEVEL, dictionary),
            None => zstd::bulk::Compressor::new(ROW_LEVEL),
        }
        .expect("zstd accepts its level and any dictionary bytes");
        Self {
            header_id,
            compressor,
            with_dictionary: dictionary.is_some(),
        }
    }

    /// The stored form of one row: codec byte, header id, zstd frame of the values. No
    /// values (a blank line) stay empty.
    pub fn encode(&mut self, row: &JobRow) -> Vec<u8> {
        let values = row.as_packed();
        if values.is_empty() {
            return Vec::new();
        }
        let frame = self
            .compressor
            .compress(values)
            .expect("zstd compresses any bytes into a growing buffer");
        let mut out = Vec::with_capacity(9 + frame.len());
        out.push(if self.with_dictionary {
            ROW_ZSTD_DICTIONARY
        } else {
            ROW_ZSTD
        });
        out.extend_from_slice(&self.header_id.to_le_bytes());
        out.extend_from_slice(&frame);
        out
    }
}

/// The header id of a stored row (which also names its dictionary), without decoding it.
pub fn job_row_header_id(bytes: &[u8]) -> Result<u64, ColumnarError> {
    let header = bytes
        .get(1..9)
        .ok_or(ColumnarError::Truncated { what: "job row" })?;
    Ok(u64::from_le_bytes(header.try_into().expect("8 bytes")))
}

/// Whether a stored row needs its header's dictionary to decode.
pub fn job_row_uses_dictionary(bytes: &[u8]) -> bool {
    bytes.first() == Some(&ROW_ZSTD_DICTIONARY)
}

/// Decodes a stored row ([`RowEncoder::encode`]): its header id and values. `dictionary` is
/// its header's dictionary, when [`job_row_uses_dictionary`].
pub fn decode_job_row(
    bytes: &[u8],
    dictionary: Option<&[u8]>,
) -> Result<(u64, Vec<String>), ColumnarError> {
    let truncated = ColumnarError::Truncated { what: "job row" };
    let header_id = job_row_header_id(bytes)?;
    let frame = &bytes[9..];
    let mut decoder = match (bytes[0], dictionary) {
        (ROW_ZSTD, _) => zstd::bulk::Decompressor::new(),
        (ROW_ZSTD_DICTIONARY, Some(dictionary)) => {
            zstd::bulk::Decompressor::with_dictionary(dictionary)
        }
        _ => return Err(truncated),
    }
    .map_err(|_| ColumnarError::Truncated { what: "job row" })?;
    let capacity = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .ok_or(ColumnarError::Truncated { what: "job row" })?;
    let raw = decoder
        .decompress(frame, capacity as usize)
        .map_err(|_| ColumnarError::Truncated { what: "job row" })?;
    Ok((header_id, JobRow::from_packed(raw).values()?))
}

/// Decodes a row stored by schema version 1 (LZ4, header id inside): for the migration.
pub fn decode_lz4_job_row(bytes: &[u8]) -> Result<(u64, Vec<String>), ColumnarError> {
    let truncated = ColumnarError::Truncated { what: "job row" };
    let raw = lz4_flex::decompress_size_prepended(bytes)
        .map_err(|_| ColumnarError::Truncated { what: "job row" })?;
    let (header_id, rest) = raw.split_first_chunk::<8>().ok_or(truncated)?;
    Ok((
        u64::from_le_bytes(*header_id),
        JobRow::from_packed(rest.to_vec()).values()?,
    ))
}

pub fn encode_job_columns(columns: &JobColumns) -> Vec<u8> {
    let mut writer = BlobWriter::new(JOB_COLUMNS_MAGIC);
    writer.put_u64(columns.len() as u64);
    writer.put_u64s(&columns.job_id);
    for column in [
        &columns.endcl_cd,
        &columns.company_name,
        &columns.application_name,
        &columns.catch_copy,
        &columns.station_name_eki,
        &columns.salary_text,
        &columns.hours,
    ] {
        writer.put_strs(column);
    }
    writer.put_u16s(&columns.pref_cd);
    writer.put_u32s(&columns.city_cd);
    writer.put_u16s(&columns.salary_type_cd);
    writer.put_u32s(&columns.min_salary);
    writer.put_u32s(&columns.max_salary);
    writer.put_i32s(&columns.fee);
    writer.put_u16s(&columns.employment_type_cd);
    writer.put_u32s(&columns.occupation_cd1);
    writer.put_u32s(&columns.occupation_cd2);
    writer.put_u32s(&columns.occupation_cd3);
    writer.put_u32s(&columns.jobtype_detail);
    writer.put_lists(&columns.feature_codes);
    writer.put_i64s(&columns.start_at);
    writer.put_i64s(&columns.end_at);
    writer.put_u8s(&columns.flags);
    writer.put_f32s(&columns.latitude);
    writer.put_f32s(&columns.longitude);
    writer.put_strs(&columns.area);
    writer.finish()
}

/// Only the `job_id` column of an encoded blob (it is stored first), without the rest.
pub fn decode_job_ids(bytes: &[u8]) -> Result<Vec<u64>, ColumnarError> {
    let mut reader = BlobReader::new(bytes, JOB_COLUMNS_MAGIC, "job columns")?;
    let n = reader.take_u64("row count")? as usize;
    reader.take_u64s("job_id", n)
}

pub fn decode_job_columns(bytes: &[u8]) -> Result<JobColumns, ColumnarError> {
    let mut reader = BlobReader::new(bytes, JOB_COLUMNS_MAGIC, "job columns")?;
    let n = reader.take_u64("row count")? as usize;
    Ok(JobColumns {
        job_id: reader.take_u64s("job_id", n)?,
        endcl_cd: reader.take_strs("endcl_cd", n)?,
        company_name: reader.take_strs("company_name", n)?,
        application_name: reader.take_strs("application_name", n)?,
        catch_copy: reader.take_strs("catch_copy", n)?,
        station_name_eki: reader.take_strs("station_name_eki", n)?,
        salary_text: reader.take_strs("salary", n)?,
        hours: reader.take_strs("hours", n)?,
        pref_cd: reader.take_u16s("pref_cd", n)?,
        city_cd: reader.take_u32s("city_cd", n)?,
        salary_type_cd: reader.take_u16s("salary_type_cd", n)?,
        min_salary: reader.take_u32s("min_salary", n)?,
        max_salary: reader.take_u32s("max_salary", n)?,
        fee: reader.take_i32s("fee", n)?,
        employment_type_cd: reader.take_u16s("employment_type_cd", n)?,
        occupation_cd1: reader.take_u32s("occupation_cd1", n)?,
        occupation_cd2: reader.take_u32s("occupation_cd2", n)?,
        occupation_cd3: reader.take_u32s("occupation_cd3", n)?,
        jobtype_detail: reader.take_u32s("jobtype_detail", n)?,
        feature_codes: reader.take_lists("feature_codes", n)?,
        start_at: reader.take_i64s("start_at", n)?,
        end_at: reader.take_i64s("end_at", n)?,
        flags: reader.take_u8s("flags", n)?,
        latitude: reader.take_f32s("latitude", n)?,
        longitude: reader.take_f32s("longitude", n)?,
        area: if reader.is_at_end() {
            StrColumn::blank(n)
        } else {
            reader.take_strs("area", n)?
        },
    })
}

pub fn encode_action_columns(columns: &ActionColumns) -> Vec<u8> {
    let mut writer = BlobWriter::new(ACTION_COLUMNS_MAGIC);
    writer.put_u64(columns.len() as u64);
    writer.put_i64s(&columns.action_at);
    writer.put_u32s(&columns.user);
    writer.put_u64s(&columns.job_id);
    writer.put_u8s(&columns.action_type);
    writer.put_u8s(&columns.source);
    writer.put_u32s(&columns.section);
    writer.put_u32s(&columns.endcl_cd);
    writer.put_u16s(&columns.pref_cd);
    writer.put_u32s(&columns.city_cd);
    writer.put_u32s(&columns.occupation_cd1);
    writer.put_u16s(&columns.employment_type_cd);
    writer.put_u16s(&columns.salary_type_cd);
    writer.put_u32s(&columns.min_salary);
    writer.put_u32s(&columns.max_salary);
    writer.put_i32s(&columns.fee);
    writer.put_lists(&columns.feature_codes);
    writer.put_u8s(&columns.flags);
    writer.put_u32s(&columns.extra);
    for dictionary in [
        &columns.users,
        &columns.companies,
        &columns.sections,
        &columns.extras,
    ] {
        writer.put_u64(dictionary.len() as u64);
        writer.put_strs(dictionary);
    }
    writer.finish()
}

pub fn decode_action_columns(bytes: &[u8]) -> Result<ActionColumns, ColumnarError> {
    let mut reader = BlobReader::new(bytes, ACTION_COLUMNS_MAGIC, "action columns")?;
    let n = reader.take_u64("row count")? as usize;
    let mut columns = ActionColumns {
        action_at: reader.take_i64s("action_at", n)?,
        user: reader.take_u32s("user", n)?,
        job_id: reader.take_u64s("job_id", n)?,
        action_type: reader.take_u8s("action_type", n)?,
        source: reader.take_u8s("source", n)?,
        section: reader.take_u32s("section", n)?,
        endcl_cd: reader.take_u32s("endcl_cd", n)?,
        pref_cd: reader.take_u16s("pref_cd", n)?,
        city_cd: reader.take_u32s("city_cd", n)?,
        occupation_cd1: reader.take_u32s("occupation_cd1", n)?,
        employment_type_cd: reader.take_u16s("employment_type_cd", n)?,
        salary_type_cd: reader.take_u16s("salary_type_cd", n)?,
        min_salary: reader.take_u32s("min_salary", n)?,
        max_salary: reader.take_u32s("max_salary", n)?,
        fee: reader.take_i32s("fee", n)?,
        feature_codes: reader.take_lists("feature_codes", n)?,
        flags: reader.take_u8s("flags", n)?,
        extra: reader.take_u32s("extra", n)?,
        ..ActionColumns::default()
    };
    for (what, dictionary) in [
        ("users", &mut columns.users),
        ("companies", &mut columns.companies),
        ("sections", &mut columns.sections),
        ("extras", &mut columns.extras),
    ] {
        let len = reader.take_u64(what)? as usize;
        *dictionary = reader.take_strs(what, len)?;
    }
    let refs_valid = |refs: &[u32], dictionary: &StrColumn| {
        refs.iter()
            .all(|&r| r == NO_REF || (r as usize) < dictionary.len())
    };
    let users_valid = columns
        .user
        .iter()
        .all(|&r| (r as usize) < columns.users.len());
    if !(users_valid
        && refs_valid(&columns.section, &columns.sections)
        && refs_valid(&columns.endcl_cd, &columns.companies)
        && refs_valid(&columns.extra, &columns.extras))
    {
        return Err(ColumnarError::Truncated {
            what: "dictionary reference",
        });
    }
    Ok(columns)
}

pub fn encode_job_scores(scores: &JobScoreTable) -> Vec<u8> {
    let mut writer = BlobWriter::new(JOB_SCORES_MAGIC);
    writer.put_u64(scores.len() as u64);
    writer.put_u64s(&scores.job_id);
    for column in [
        &scores.basic,
        &scores.wage,
        &scores.fee,
        &scores.popularity,
        &scores.seo,
    ] {
        writer.put_u64s(&column.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }
    writer.put_strs(&scores.needs);
    writer.put_u16s(&scores.occupation_category);
    writer.put_strs(&scores.matched_keywords);
    writer.finish()
}

pub fn decode_job_scores(bytes: &[u8]) -> Result<JobScoreTable, ColumnarError> {
    let mut reader = BlobReader::new(bytes, JOB_SCORES_MAGIC, "job scores")?;
    let n = reader.take_u64("row count")? as usize;
    let job_id = reader.take_u64s("job_id", n)?;
    let mut floats = |what| -> Result<Vec<f64>, ColumnarError> {
        Ok(reader
            .take_u64s(what, n)?
            .into_iter()
            .map(f64::from_bits)
            .collect())
    };
    let (basic, wage, fee, popularity, seo) = (
        floats("basic")?,
        floats("wage")?,
        floats("fee")?,
        floats("popularity")?,
        floats("seo")?,
    );
    Ok(JobScoreTable {
        job_id,
        basic,
        wage,
        fee,
        popularity,
        seo,
        needs: reader.take_strs("needs", n)?,
        occupation_category: reader.take_u16s("occupation_category", n)?,
        matched_keywords: reader.take_strs("matched_keywords", n)?,
    })
}

/// The redb store's [`RowPacker`]: compresses each row with its header's dictionary. A
/// header seen for the first time has none: its first [`DICTIONARY_SAMPLES`] rows pass
/// through plain, a dictionary is trained on them, and the rows after are compressed with
/// it; the plain rows are compressed with the same dictionary when the snapshot is written.
pub struct ZstdRowPacker {
    header_id: u64,
    encoder: Option<RowEncoder>,
    samples: Vec<Vec<u8>>,
    trained: Option<Vec<u8>>,
}

impl ZstdRowPacker {
    /// A packer for the rows of the header `header_id`, with its stored dictionary if any.
    pub fn new(header_id: u64, dictionary: Option<&[u8]>) -> Self {
        Self {
            header_id,
            encoder: dictionary.map(|dictionary| RowEncoder::new(header_id, Some(dictionary))),
            samples: Vec::new(),
            trained: None,
        }
    }
}

impl RowPacker for ZstdRowPacker {
    fn pack(&mut self, row: JobRow) -> PackedRow {
        if let Some(encoder) = &mut self.encoder {
            return PackedRow::Encoded(encoder.encode(&row));
        }
        self.samples.push(row.as_packed().to_vec());
        if self.samples.len() >= DICTIONARY_SAMPLES {
            self.train();
        }
        PackedRow::Plain(row)
    }

    fn finish(mut self: Box<Self>) -> RowPacking {
        if self.encoder.is_none() {
            self.train();
        }
        RowPacking {
            header_id: self.header_id,
            new_dictionary: self.trained,
        }
    }
}

impl ZstdRowPacker {
    fn train(&mut self) {
        self.trained = train_row_dictionary(&std::mem::take(&mut self.samples));
        self.encoder = Some(RowEncoder::new(self.header_id, self.trained.as_deref()));
    }
}

/// A stored day of actions handed over still compressed: decoded when scoring opens it.
pub struct Lz4ActionDay {
    pub day: i64,
    pub bytes: Vec<u8>,
}

impl ActionDay for Lz4ActionDay {
    fn day(&self) -> i64 {
        self.day
    }

    fn columns(&self) -> Result<Cow<'_, ActionColumns>, String> {
        unpack_action_day(&self.bytes)
            .map(Cow::Owned)
            .map_err(|e| format!("actions of UTC day {}: {e}", self.day))
    }

    fn held_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// A day's blob LZ4-compressed: the columns of a day (codes, fees, sorted instants) shrink
/// about threefold, and so does the write volume of an import.
pub fn pack_action_day(columns: &ActionColumns) -> Vec<u8> {
    lz4_flex::compress_prepend_size(&encode_action_columns(columns))
}

pub fn unpack_action_day(bytes: &[u8]) -> Result<ActionColumns, ColumnarError> {
    let raw = lz4_flex::decompress_size_prepended(bytes).map_err(|_| ColumnarError::Truncated {
        what: "compressed day of actions",
    })?;
    decode_action_columns(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::action::{ActionColumnsBuilder, sample_row as action};
    use crate::domain::{CityCode, PrefCode};
    use crate::domain::{Fee, JobFields, JobId};

    fn sample(job_id: u64) -> JobFields {
        JobFields {
            job_id: Some(JobId::new(job_id)),
            endcl_cd: Some("EC0001".into()),
            company_name: "株式会社サンプル".into(),
            application_name: "カフェのホールスタッフ".into(),
            pref_cd: Some(PrefCode::new(13)),
            city_cd: Some(CityCode::new(13113)),
            salary_type_cd: Some(1),
            min_salary: Some(1200),
            max_salary: None,
            fee: Fee::new(800),
            employment_type_cd: Some(1),
            occupation_cd1: Some(100),
            feature_codes: vec![100, 103],
            start_at: Some(1_751_382_000_000_000),
            end_at: None,
            is_delivery: true,
            del_flg: false,
            hours: "10:00〜18:00".into(),
            latitude: Some(35.66),
            ..JobFields::default()
        }
    }

    #[test]
    fn columns_round_trip_through_a_blob() {
        let mut columns = JobColumns::new();
        columns.push(JobId::new(7), &sample(7));
        let mut other = sample(3);
        other.endcl_cd = None;
        other.fee = None;
        other.del_flg = true;
        columns.push(JobId::new(3), &other);
        let columns = columns.sorted_by_job_id();
        assert_eq!(columns.job_id, vec![3, 7]);
        let decoded = decode_job_columns(&encode_job_columns(&columns)).unwrap();
        assert_eq!(decoded.fields(0), other);
        assert_eq!(decoded.fields(1), sample(7));
        assert_eq!(decoded.position(JobId::new(7)), Some(1));
        assert_eq!(
            decode_job_ids(&encode_job_columns(&columns)).unwrap(),
            vec![3, 7]
        );
    }

    #[test]
    fn job_rows_round_trip_with_and_without_a_dictionary() {
        let row = |i: usize| {
            let id = format!("{}", 1_000_000 + i);
            let company = format!("株式会社サンプル{}", i % 7);
            let pay = format!("時給{}円", 1_000 + (i % 40) * 10);
            JobRow::from_values([id.as_str(), company.as_str(), "", pay.as_str()].into_iter())
        };
        let samples: Vec<Vec<u8>> = (0..500).map(|i| row(i).as_packed().to_vec()).collect();
        let dictionary = train_row_dictionary(&samples).expect("500 rows train a dictionary");
        assert_eq!(train_row_dictionary(&samples[..10]), None, "too few rows");
        for dictionary in [None, Some(dictionary.as_slice())] {
            let mut encoder = RowEncoder::new(4, dictionary);
            let bytes = encoder.encode(&row(3));
            assert_eq!(job_row_header_id(&bytes).unwrap(), 4);
            assert_eq!(job_row_uses_dictionary(&bytes), dictionary.is_some());
            let (header_id, decoded) = decode_job_row(&bytes, dictionary).unwrap();
            assert_eq!(header_id, 4);
            assert_eq!(decoded, ["1000003", "株式会社サンプル3", "", "時給1030円"]);
            // Cut short, or without the dictionary it needs: an error, not garbage.
            assert!(decode_job_row(&bytes[..bytes.len() - 3], dictionary).is_err());
            if dictionary.is_some() {
                assert!(decode_job_row(&bytes, None).is_err());
            }
        }
    }

    #[test]
    fn schema_1_rows_decode_for_the_migration() {
        let mut raw = 9u64.to_le_bytes().to_vec();
        raw.extend(JobRow::from_values(["7", "東京都"].into_iter()).as_packed());
        let bytes = lz4_flex::compress_prepend_size(&raw);
        assert_eq!(
            decode_lz4_job_row(&bytes).unwrap(),
            (9, vec!["7".to_owned(), "東京都".to_owned()])
        );
    }

    #[test]
    fn action_columns_round_trip_through_a_blob() {
        let mut builder = ActionColumnsBuilder::new();
        builder.push(&action("u1", 10, 5));
        let mut second = action("u2", 11, 6);
        second.section = None;
        second.feature_codes = None;
        second.extra = Some(r#"{"device":"ios"}"#);
        builder.push(&second);
        let columns = builder.finish();
        let decoded = decode_action_columns(&encode_action_columns(&columns)).unwrap();
        assert_eq!(decoded, columns);
        assert_eq!(decoded.row(1), second);
        let day = Lz4ActionDay {
            day: 3,
            bytes: pack_action_day(&columns),
        };
        assert_eq!(*day.columns().unwrap(), columns);
        let cut = Lz4ActionDay {
            day: 3,
            bytes: day.bytes[..day.bytes.len() - 4].to_vec(),
        };
        assert!(cut.columns().unwrap_err().contains("UTC day 3"));
    }

    /// A packer without a stored dictionary passes the rows it trains on through plain;
    /// encoded with the trained dictionary at the commit, they are the bytes the packer
    /// would have made, and every row decodes to its values.
    #[test]
    fn a_new_header_s_first_rows_pass_plain_and_the_rest_are_compressed() {
        let row = |i: usize| {
            let id = format!("{i}");
            let text = format!("カフェのホールスタッフ 時給{}円 {}", 1_000 + i % 50, i % 17);
            JobRow::from_values([id.as_str(), text.as_str()].into_iter())
        };
        let mut packer: Box<dyn RowPacker> = Box::new(ZstdRowPacker::new(9, None));
        let packed: Vec<PackedRow> = (0..DICTIONARY_SAMPLES + 10)
            .map(|i| packer.pack(row(i)))
            .collect();
        let packing = packer.finish();
        assert_eq!(packing.header_id, 9);
        let dictionary = packing.new_dictionary.expect("enough rows to train");
        let plain = packed
            .iter()
            .take_while(|p| matches!(p, PackedRow::Plain(_)))
            .count();
        assert_eq!(plain, DICTIONARY_SAMPLES);
        let mut encoder = RowEncoder::new(9, Some(&dictionary));
        for (i, packed) in packed.into_iter().enumerate() {
            let bytes = match packed {
                PackedRow::Plain(plain) => encoder.encode(&plain),
                PackedRow::Encoded(bytes) => {
                    assert_eq!(bytes, encoder.encode(&row(i)));
                    bytes
                }
            };
            let (_, values) = decode_job_row(&bytes, Some(&dictionary)).unwrap();
            assert_eq!(values, row(i).values().unwrap());
        }
        // With a stored dictionary every row is compressed at once.
        let mut packer = ZstdRowPacker::new(9, Some(&dictionary));
        assert!(matches!(packer.pack(row(1)), PackedRow::Encoded(_)));
        assert_eq!(Box::new(packer).finish().new_dictionary, None);
    }
}
