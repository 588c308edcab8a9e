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

/// Encodes one feed row compactly for storage: the id of its header list, then the
/// values, LZ4-compressed. Rows of 1.5 KB of Japanese text shrink to about half.
pub fn encode_job_row<'a>(header_id: u64, values: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut raw = Vec::with_capacity(2048);
    raw.extend_from_slice(&header_id.to_le_bytes());
    for value in values {
        raw.extend_from_slice(&(value.len() as u32).to_le_bytes());
        raw.extend_from_slice(value.as_bytes());
    }
    lz4_flex::compress_prepend_size(&raw)
}

/// Decodes [`encode_job_row`]: the header id and the values.
pub fn decode_job_row(bytes: &[u8]) -> Result<(u64, Vec<String>), ColumnarError> {
    let truncated = ColumnarError::Truncated { what: "job row" };
    let raw = lz4_flex::decompress_size_prepended(bytes)
        .map_err(|_| ColumnarError::Truncated { what: "job row" })?;
    let (header_id, mut rest) = raw.split_first_chunk::<8>().ok_or(truncated)?;
    let header_id = u64::from_le_bytes(*header_id);
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
    Ok((header_id, values))
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
    fn job_rows_round_trip_compressed() {
        let values = ["1000001", "株式会社サンプル", "", "時給1200円"];
        let bytes = encode_job_row(4, values.iter().copied());
        let (header_id, decoded) = decode_job_row(&bytes).unwrap();
        assert_eq!(header_id, 4);
        assert_eq!(decoded, values);
    }
}
