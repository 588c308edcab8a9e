//! Jobs: the typed fields scoring reads, the full feed row kept for display, and the
//! columns of the current snapshot's scoring fields that scoring loads.

use serde::Serialize;

use super::ids::{CityCode, Fee, JobId, PrefCode};
use super::time::Micros;
use crate::columnar::{ColumnarError, ListColumn, StrColumn};

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

/// One feed row as imported: the values of its columns in the feed's order, back to back
/// with their lengths. This is what crosses into the store, which keeps it in its own form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobRow {
    packed: Vec<u8>,
}

impl JobRow {
    pub fn from_values<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut packed = Vec::with_capacity(2048);
        for value in values {
            packed.extend_from_slice(&(value.len() as u32).to_le_bytes());
            packed.extend_from_slice(value.as_bytes());
        }
        Self { packed }
    }

    /// The row in its packed form, as [`JobRow::from_packed`] takes it back.
    pub fn as_packed(&self) -> &[u8] {
        &self.packed
    }

    /// A row from its packed form; it is checked by [`JobRow::values`].
    pub fn from_packed(packed: Vec<u8>) -> Self {
        Self { packed }
    }

    /// The values, in the feed's order; an error when the packed form is cut short.
    pub fn values(&self) -> Result<Vec<String>, ColumnarError> {
        let mut rest = self.packed.as_slice();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gives_back_its_values_and_a_cut_row_is_an_error() {
        let row = JobRow::from_values(["7", "", "東京都"].into_iter());
        assert_eq!(row.values().unwrap(), ["7", "", "東京都"]);
        let packed = row.as_packed();
        let cut = JobRow::from_packed(packed[..packed.len() - 2].to_vec());
        assert!(cut.values().is_err());
    }
}
