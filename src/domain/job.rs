//! Jobs: the typed fields scoring reads, the full feed row kept for display, and the
//! columnar form in which the current snapshot's scoring fields are stored and loaded.

use serde::Serialize;

use super::ids::{CityCode, Fee, JobId, PrefCode};
use super::time::Micros;
use crate::columnar::{BlobReader, BlobWriter, ColumnarError, ListColumn, StrColumn};

/// The typed fields of one job that scoring, matching and rendering read.
/// `None` means the feed had no usable value (missing, `NULL`, or invalid and reported).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobFields {
    pub job_id: Option<JobId>,
    pub endcl_cd: Option<String>,
    pub company_name: String,
    pub application_name: String,
    pub pref_cd: Option<PrefCode>,
    pub city_cd: Option<CityCode>,
    pub salary_type_cd: Option<u16>,
    pub min_salary: Option<u32>,
    pub max_salary: Option<u32>,
    pub fee: Option<Fee>,
    pub employment_type_cd: Option<u16>,
    pub occupation_cd1: Option<u32>,
    pub occupation_cd2: Option<u32>,
    pub occupation_cd3: Option<u32>,
    pub jobtype_detail: Option<u32>,
    pub feature_codes: Vec<u32>,
    /// Posting start; `None` means "already started" (and never "new").
    pub start_at: Option<Micros>,
    /// Posting end; `None` means "no end".
    pub end_at: Option<Micros>,
    pub is_delivery: bool,
    pub del_flg: bool,
    pub catch_copy: String,
    pub station_name_eki: String,
    pub salary_text: String,
    pub hours: String,
    /// The feed's own text for the place (`area`), shown where the masters name no city.
    pub area: String,
    pub latitude: Option<f32>,
    pub longitude: Option<f32>,
}

/// A full feed row as imported: every column, in the feed's order, values as written
/// (`None` where the cell meant "no value").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub job_id: JobId,
    /// Whether the job is in the current snapshot.
    pub active: bool,
    pub columns: Vec<(String, Option<String>)>,
}

impl JobRecord {
    pub fn value(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(name, _)| name == column)
            .and_then(|(_, value)| value.as_deref())
    }
}

/// The values of one feed row, back to back with their lengths (uncompressed).
pub fn job_row_values<'a>(values: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut raw = Vec::with_capacity(2048);
    for value in values {
        raw.extend_from_slice(&(value.len() as u32).to_le_bytes());
        raw.extend_from_slice(value.as_bytes());
    }
    raw
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

/// Trains a row dictionary on sample rows (as [`job_row_values`] gives them); `None` when
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
    pub fn encode(&mut self, values: &[u8]) -> Vec<u8> {
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
    Ok((header_id, split_row_values(&raw)?))
}

fn split_row_values(mut rest: &[u8]) -> Result<Vec<String>, ColumnarError> {
    let mut values = Vec::new();
    while !rest.is_empty() {
        let (len, after) = rest
            .split_first_chunk::<4>()
            .ok_or(ColumnarError::Truncated { what: "job row" })?;
        let len = u32::from_le_bytes(*len) as usize;
        if after.len() < len {
            return Err(ColumnarError::Truncated { what: "job row" });
        }
        let text = std::str::from_utf8(&after[..len])
            .map_err(|_| ColumnarError::Utf8 { what: "job row" })?;
        values.push(text.to_owned());
        rest = &after[len..];
    }
    Ok(values)
}

/// Decodes a row stored by schema version 1 (LZ4, header id inside): for the migration.
pub fn decode_lz4_job_row(bytes: &[u8]) -> Result<(u64, Vec<String>), ColumnarError> {
    let truncated = ColumnarError::Truncated { what: "job row" };
    let raw = lz4_flex::decompress_size_prepended(bytes)
        .map_err(|_| ColumnarError::Truncated { what: "job row" })?;
    let (header_id, rest) = raw.split_first_chunk::<8>().ok_or(truncated)?;
    Ok((u64::from_le_bytes(*header_id), split_row_values(rest)?))
}

/// Flags of a job in [`JobColumns::flags`].
pub mod flags {
    /// `del_flg` was true.
    pub const DELETED: u8 = 1;
    /// `is_delivery` was false.
    pub const NOT_DELIVERABLE: u8 = 2;
}

/// Sentinels of [`JobColumns`]: the value a column holds where the job has none.
pub mod none {
    pub const CODE: u32 = 0;
    pub const SMALL_CODE: u16 = 0;
    pub const SALARY: u32 = 0;
    pub const FEE: i32 = -1;
    pub const START: i64 = i64::MIN;
    pub const END: i64 = i64::MAX;
}

/// The scoring fields of many jobs as columns (struct of arrays), sorted by `job_id`.
/// This is what the store keeps for the current snapshot and what scoring loads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobColumns {
    pub job_id: Vec<u64>,
    /// Company code; empty string where the job has none.
    pub endcl_cd: StrColumn,
    pub company_name: StrColumn,
    pub application_name: StrColumn,
    pub catch_copy: StrColumn,
    pub station_name_eki: StrColumn,
    pub salary_text: StrColumn,
    pub hours: StrColumn,
    pub pref_cd: Vec<u16>,
    pub city_cd: Vec<u32>,
    pub salary_type_cd: Vec<u16>,
    pub min_salary: Vec<u32>,
    pub max_salary: Vec<u32>,
    pub fee: Vec<i32>,
    pub employment_type_cd: Vec<u16>,
    pub occupation_cd1: Vec<u32>,
    pub occupation_cd2: Vec<u32>,
    pub occupation_cd3: Vec<u32>,
    pub jobtype_detail: Vec<u32>,
    pub feature_codes: ListColumn,
    pub start_at: Vec<i64>,
    pub end_at: Vec<i64>,
    pub flags: Vec<u8>,
    pub latitude: Vec<f32>,
    pub longitude: Vec<f32>,
    /// Written last: a blob from before it existed reads it as empty strings.
    pub area: StrColumn,
}

const JOB_COLUMNS_MAGIC: &[u8; 4] = b"MJC1";

impl JobColumns {
    pub fn new() -> Self {
        Self {
            endcl_cd: StrColumn::new(),
            company_name: StrColumn::new(),
            application_name: StrColumn::new(),
            catch_copy: StrColumn::new(),
            station_name_eki: StrColumn::new(),
            salary_text: StrColumn::new(),
            hours: StrColumn::new(),
            feature_codes: ListColumn::new(),
            area: StrColumn::new(),
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.job_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.job_id.is_empty()
    }

    /// Appends one job. The caller keeps `job_id`s unique.
    pub fn push(&mut self, job_id: JobId, fields: &JobFields) {
        self.job_id.push(job_id.get());
        self.endcl_cd.push(fields.endcl_cd.as_deref().unwrap_or(""));
        self.company_name.push(&fields.company_name);
        self.application_name.push(&fields.application_name);
        self.catch_copy.push(&fields.catch_copy);
        self.station_name_eki.push(&fields.station_name_eki);
        self.salary_text.push(&fields.salary_text);
        self.hours.push(&fields.hours);
        self.area.push(&fields.area);
        self.pref_cd
            .push(fields.pref_cd.map_or(none::SMALL_CODE, PrefCode::get));
        self.city_cd
            .push(fields.city_cd.map_or(none::CODE, CityCode::get));
        self.salary_type_cd
            .push(fields.salary_type_cd.unwrap_or(none::SMALL_CODE));
        self.min_salary
            .push(fields.min_salary.unwrap_or(none::SALARY));
        self.max_salary
            .push(fields.max_salary.unwrap_or(none::SALARY));
        self.fee
            .push(fields.fee.map_or(none::FEE, |fee| i32::from(fee.get())));
        self.employment_type_cd
            .push(fields.employment_type_cd.unwrap_or(none::SMALL_CODE));
        self.occupation_cd1
            .push(fields.occupation_cd1.unwrap_or(none::CODE));
        self.occupation_cd2
            .push(fields.occupation_cd2.unwrap_or(none::CODE));
        self.occupation_cd3
            .push(fields.occupation_cd3.unwrap_or(none::CODE));
        self.jobtype_detail
            .push(fields.jobtype_detail.unwrap_or(none::CODE));
        self.feature_codes.push(&fields.feature_codes);
        self.start_at.push(fields.start_at.unwrap_or(none::START));
        self.end_at.push(fields.end_at.unwrap_or(none::END));
        let mut flag_bits = 0;
        if fields.del_flg {
            flag_bits |= flags::DELETED;
        }
        if !fields.is_delivery {
            flag_bits |= flags::NOT_DELIVERABLE;
        }
        self.flags.push(flag_bits);
        self.latitude.push(fields.latitude.unwrap_or(f32::NAN));
        self.longitude.push(fields.longitude.unwrap_or(f32::NAN));
    }

    /// The typed fields of row `index`.
    pub fn fields(&self, index: usize) -> JobFields {
        let code = |value: u32| (value != none::CODE).then_some(value);
        let small = |value: u16| (value != none::SMALL_CODE).then_some(value);
        let text = |column: &StrColumn| column.get(index).to_owned();
        let coordinate = |value: f32| (!value.is_nan()).then_some(value);
        JobFields {
            job_id: Some(JobId::new(self.job_id[index])),
            endcl_cd: Some(self.endcl_cd.get(index))
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            company_name: text(&self.company_name),
            application_name: text(&self.application_name),
            pref_cd: small(self.pref_cd[index]).map(PrefCode::new),
            city_cd: code(self.city_cd[index]).map(CityCode::new),
            salary_type_cd: small(self.salary_type_cd[index]),
            min_salary: Some(self.min_salary[index]).filter(|v| *v != none::SALARY),
            max_salary: Some(self.max_salary[index]).filter(|v| *v != none::SALARY),
            fee: u16::try_from(self.fee[index]).ok().and_then(Fee::new),
            employment_type_cd: small(self.employment_type_cd[index]),
            occupation_cd1: code(self.occupation_cd1[index]),
            occupation_cd2: code(self.occupation_cd2[index]),
            occupation_cd3: code(self.occupation_cd3[index]),
            jobtype_detail: code(self.jobtype_detail[index]),
            feature_codes: self.feature_codes.get(index).to_vec(),
            start_at: Some(self.start_at[index]).filter(|v| *v != none::START),
            end_at: Some(self.end_at[index]).filter(|v| *v != none::END),
            is_delivery: self.flags[index] & flags::NOT_DELIVERABLE == 0,
            del_flg: self.flags[index] & flags::DELETED != 0,
            catch_copy: text(&self.catch_copy),
            station_name_eki: text(&self.station_name_eki),
            salary_text: text(&self.salary_text),
            hours: text(&self.hours),
            area: text(&self.area),
            latitude: coordinate(self.latitude[index]),
            longitude: coordinate(self.longitude[index]),
        }
    }

    /// Row index of a job, by binary search (rows are sorted by `job_id`).
    pub fn position(&self, job_id: JobId) -> Option<usize> {
        self.job_id.binary_search(&job_id.get()).ok()
    }

    /// The same jobs sorted by `job_id` (the stored order).
    pub fn sorted_by_job_id(self) -> Self {
        if self.job_id.is_sorted() {
            return self;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_unstable_by_key(|&i| self.job_id[i]);
        self.select(&order)
    }

    /// The rows at `order`, in that order.
    pub fn select(&self, order: &[usize]) -> Self {
        fn pick<T: Copy>(values: &[T], order: &[usize]) -> Vec<T> {
            order.iter().map(|&i| values[i]).collect()
        }
        Self {
            job_id: pick(&self.job_id, order),
            endcl_cd: self.endcl_cd.gather(order),
            company_name: self.company_name.gather(order),
            application_name: self.application_name.gather(order),
            catch_copy: self.catch_copy.gather(order),
            station_name_eki: self.station_name_eki.gather(order),
            salary_text: self.salary_text.gather(order),
            hours: self.hours.gather(order),
            pref_cd: pick(&self.pref_cd, order),
            city_cd: pick(&self.city_cd, order),
            salary_type_cd: pick(&self.salary_type_cd, order),
            min_salary: pick(&self.min_salary, order),
            max_salary: pick(&self.max_salary, order),
            fee: pick(&self.fee, order),
            employment_type_cd: pick(&self.employment_type_cd, order),
            occupation_cd1: pick(&self.occupation_cd1, order),
            occupation_cd2: pick(&self.occupation_cd2, order),
            occupation_cd3: pick(&self.occupation_cd3, order),
            jobtype_detail: pick(&self.jobtype_detail, order),
            feature_codes: self.feature_codes.gather(order),
            start_at: pick(&self.start_at, order),
            end_at: pick(&self.end_at, order),
            flags: pick(&self.flags, order),
            latitude: pick(&self.latitude, order),
            longitude: pick(&self.longitude, order),
            area: self.area.gather(order),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut writer = BlobWriter::new(JOB_COLUMNS_MAGIC);
        writer.put_u64(self.len() as u64);
        writer.put_u64s(&self.job_id);
        for column in [
            &self.endcl_cd,
            &self.company_name,
            &self.application_name,
            &self.catch_copy,
            &self.station_name_eki,
            &self.salary_text,
            &self.hours,
        ] {
            writer.put_strs(column);
        }
        writer.put_u16s(&self.pref_cd);
        writer.put_u32s(&self.city_cd);
        writer.put_u16s(&self.salary_type_cd);
        writer.put_u32s(&self.min_salary);
        writer.put_u32s(&self.max_salary);
        writer.put_i32s(&self.fee);
        writer.put_u16s(&self.employment_type_cd);
        writer.put_u32s(&self.occupation_cd1);
        writer.put_u32s(&self.occupation_cd2);
        writer.put_u32s(&self.occupation_cd3);
        writer.put_u32s(&self.jobtype_detail);
        writer.put_lists(&self.feature_codes);
        writer.put_i64s(&self.start_at);
        writer.put_i64s(&self.end_at);
        writer.put_u8s(&self.flags);
        writer.put_f32s(&self.latitude);
        writer.put_f32s(&self.longitude);
        writer.put_strs(&self.area);
        writer.finish()
    }

    /// Only the `job_id` column of an encoded blob (it is stored first), without the rest.
    pub fn decode_job_ids(bytes: &[u8]) -> Result<Vec<u64>, ColumnarError> {
        let mut reader = BlobReader::new(bytes, JOB_COLUMNS_MAGIC, "job columns")?;
        let n = reader.take_u64("row count")? as usize;
        reader.take_u64s("job_id", n)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ColumnarError> {
        let mut reader = BlobReader::new(bytes, JOB_COLUMNS_MAGIC, "job columns")?;
        let n = reader.take_u64("row count")? as usize;
        Ok(Self {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let decoded = JobColumns::decode(&columns.encode()).unwrap();
        assert_eq!(decoded.fields(0), other);
        assert_eq!(decoded.fields(1), sample(7));
        assert_eq!(decoded.position(JobId::new(7)), Some(1));
        assert_eq!(
            JobColumns::decode_job_ids(&columns.encode()).unwrap(),
            vec![3, 7]
        );
    }

    #[test]
    fn job_rows_round_trip_with_and_without_a_dictionary() {
        let row = |i: usize| {
            let id = format!("{}", 1_000_000 + i);
            let company = format!("株式会社サンプル{}", i % 7);
            let pay = format!("時給{}円", 1_000 + (i % 40) * 10);
            job_row_values([id.as_str(), company.as_str(), "", pay.as_str()].into_iter())
        };
        let samples: Vec<Vec<u8>> = (0..500).map(row).collect();
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
        raw.extend(job_row_values(["7", "東京都"].into_iter()));
        let bytes = lz4_flex::compress_prepend_size(&raw);
        assert_eq!(
            decode_lz4_job_row(&bytes).unwrap(),
            (9, vec!["7".to_owned(), "東京都".to_owned()])
        );
    }
}
