//! Actions (applications, clicks, opens …) and their columnar form.
//!
//! An action is identified by (user, job, type, instant): ingesting it twice keeps one.
//! Stores hand actions over as [`ActionDay`]s: one UTC day each, sorted by identity.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::value::ValueError;
use crate::columnar::{ListColumn, StrColumn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ActionType {
    Applied = 1,
    Click = 2,
    Open = 3,
    View = 4,
    Favorite = 5,
}

impl ActionType {
    pub const ALL: [ActionType; 5] = [
        Self::Applied,
        Self::Click,
        Self::Open,
        Self::View,
        Self::Favorite,
    ];

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text))
            .ok_or(ValueError::Invalid(
                "action_type must be applied, click, open, view or favorite",
            ))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Click => "click",
            Self::Open => "open",
            Self::View => "view",
            Self::Favorite => "favorite",
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| *kind as u8 == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ActionSource {
    Email = 1,
    Web = 2,
    App = 3,
}

impl ActionSource {
    pub const ALL: [ActionSource; 3] = [Self::Email, Self::Web, Self::App];

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        Self::ALL
            .into_iter()
            .find(|source| source.as_str().eq_ignore_ascii_case(text))
            .ok_or(ValueError::Invalid("source must be email, web or app"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Web => "web",
            Self::App => "app",
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|source| *source as u8 == code)
    }
}

/// Reference to "no entry" in a dictionary-encoded column.
pub const NO_REF: u32 = u32::MAX;

/// Bits of [`ActionColumns::flags`].
pub mod flags {
    /// The `feature_codes` snapshot cell had a value (possibly an empty list).
    pub const HAS_FEATURES: u8 = 1;
}

/// One action with its job snapshot, as the importers and the API produce it.
/// Codes use 0, salaries 0, the fee -1 for "no value", like [`super::JobColumns`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionRow<'a> {
    pub user_id: &'a str,
    pub job_id: u64,
    pub action_type: Option<ActionType>,
    pub action_at: i64,
    pub source: Option<ActionSource>,
    pub section: Option<&'a str>,
    pub endcl_cd: Option<&'a str>,
    pub pref_cd: u16,
    pub city_cd: u32,
    pub occupation_cd1: u32,
    pub employment_type_cd: u16,
    pub salary_type_cd: u16,
    pub min_salary: u32,
    pub max_salary: u32,
    pub fee: i32,
    pub feature_codes: Option<&'a [u32]>,
    /// Unknown columns of the input row, as a JSON object; kept with the record.
    pub extra: Option<&'a str>,
}

/// Many actions as columns. Strings that repeat (user ids, company codes, sections, extra
/// columns) are dictionary-encoded per blob.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionColumns {
    pub action_at: Vec<i64>,
    pub user: Vec<u32>,
    pub job_id: Vec<u64>,
    pub action_type: Vec<u8>,
    pub source: Vec<u8>,
    pub section: Vec<u32>,
    pub endcl_cd: Vec<u32>,
    pub pref_cd: Vec<u16>,
    pub city_cd: Vec<u32>,
    pub occupation_cd1: Vec<u32>,
    pub employment_type_cd: Vec<u16>,
    pub salary_type_cd: Vec<u16>,
    pub min_salary: Vec<u32>,
    pub max_salary: Vec<u32>,
    pub fee: Vec<i32>,
    pub feature_codes: ListColumn,
    pub flags: Vec<u8>,
    pub extra: Vec<u32>,
    /// Dictionaries the reference columns point into.
    pub users: StrColumn,
    pub companies: StrColumn,
    pub sections: StrColumn,
    pub extras: StrColumn,
}

fn lookup(dictionary: &StrColumn, reference: u32) -> Option<&str> {
    (reference != NO_REF).then(|| dictionary.get(reference as usize))
}

impl ActionColumns {
    /// Bytes the columns hold on the heap.
    pub fn heap_bytes(&self) -> usize {
        fn bytes<T>(column: &[T]) -> usize {
            std::mem::size_of_val(column)
        }
        bytes(&self.action_at)
            + bytes(&self.user)
            + bytes(&self.job_id)
            + bytes(&self.action_type)
            + bytes(&self.source)
            + bytes(&self.section)
            + bytes(&self.endcl_cd)
            + bytes(&self.pref_cd)
            + bytes(&self.city_cd)
            + bytes(&self.occupation_cd1)
            + bytes(&self.employment_type_cd)
            + bytes(&self.salary_type_cd)
            + bytes(&self.min_salary)
            + bytes(&self.max_salary)
            + bytes(&self.fee)
            + self.feature_codes.heap_bytes()
            + bytes(&self.flags)
            + bytes(&self.extra)
            + [&self.users, &self.companies, &self.sections, &self.extras]
                .iter()
                .map(|dictionary| dictionary.heap_bytes())
                .sum::<usize>()
    }

    pub fn len(&self) -> usize {
        self.action_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.action_at.is_empty()
    }

    pub fn user_id(&self, row: usize) -> &str {
        self.users.get(self.user[row] as usize)
    }

    /// The row at `index`, borrowing its strings.
    pub fn row(&self, index: usize) -> ActionRow<'_> {
        ActionRow {
            user_id: self.user_id(index),
            job_id: self.job_id[index],
            action_type: ActionType::from_code(self.action_type[index]),
            action_at: self.action_at[index],
            source: ActionSource::from_code(self.source[index]),
            section: lookup(&self.sections, self.section[index]),
            endcl_cd: lookup(&self.companies, self.endcl_cd[index]),
            pref_cd: self.pref_cd[index],
            city_cd: self.city_cd[index],
            occupation_cd1: self.occupation_cd1[index],
            employment_type_cd: self.employment_type_cd[index],
            salary_type_cd: self.salary_type_cd[index],
            min_salary: self.min_salary[index],
            max_salary: self.max_salary[index],
            fee: self.fee[index],
            feature_codes: (self.flags[index] & flags::HAS_FEATURES != 0)
                .then(|| self.feature_codes.get(index)),
            extra: lookup(&self.extras, self.extra[index]),
        }
    }

    /// Sets the feature codes of the given rows (and marks them present).
    pub fn replace_feature_codes(&mut self, replacements: &HashMap<usize, Vec<u32>>) {
        if replacements.is_empty() {
            return;
        }
        let mut rebuilt = ListColumn::new();
        for row in 0..self.len() {
            match replacements.get(&row) {
                Some(codes) => {
                    rebuilt.push(codes);
                    self.flags[row] |= flags::HAS_FEATURES;
                }
                None => rebuilt.push(self.feature_codes.get(row)),
            }
        }
        self.feature_codes = rebuilt;
    }

    /// Compares rows by identity: instant, user, job, type.
    pub fn identity_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        self.action_at[a]
            .cmp(&self.action_at[b])
            .then_with(|| self.user_id(a).cmp(self.user_id(b)))
            .then_with(|| self.job_id[a].cmp(&self.job_id[b]))
            .then_with(|| self.action_type[a].cmp(&self.action_type[b]))
    }
}

/// One UTC day of actions as a store hands it over for aggregation. A store may keep the
/// day in its own compact form until [`ActionDay::columns`] is called: scoring opens one
/// day at a time, so a year of actions is never held decoded at once.
pub trait ActionDay: Send + Sync {
    /// The UTC day number ([`crate::domain::time::utc_day`]).
    fn day(&self) -> i64;

    /// The day's actions, sorted by identity; an error says why they cannot be read.
    fn columns(&self) -> Result<Cow<'_, ActionColumns>, String>;

    /// Bytes of memory the day holds until it is opened (for the run's record).
    fn held_bytes(&self) -> usize;
}

/// A day of actions held decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedActionDay {
    pub day: i64,
    pub columns: ActionColumns,
}

impl ActionDay for DecodedActionDay {
    fn day(&self) -> i64 {
        self.day
    }

    fn columns(&self) -> Result<Cow<'_, ActionColumns>, String> {
        Ok(Cow::Borrowed(&self.columns))
    }

    fn held_bytes(&self) -> usize {
        self.columns.heap_bytes()
    }
}

/// Builds [`ActionColumns`] row by row, interning repeated strings.
#[derive(Debug, Default)]
pub struct ActionColumnsBuilder {
    columns: ActionColumns,
    users: HashMap<String, u32>,
    companies: HashMap<String, u32>,
    sections: HashMap<String, u32>,
    extras: HashMap<String, u32>,
}

fn intern(index: &mut HashMap<String, u32>, dictionary: &mut StrColumn, value: &str) -> u32 {
    if let Some(&reference) = index.get(value) {
        return reference;
    }
    let reference = dictionary.len() as u32;
    dictionary.push(value);
    index.insert(value.to_owned(), reference);
    reference
}

impl ActionColumnsBuilder {
    pub fn new() -> Self {
        let columns = ActionColumns {
            feature_codes: ListColumn::new(),
            users: StrColumn::new(),
            companies: StrColumn::new(),
            sections: StrColumn::new(),
            extras: StrColumn::new(),
            ..ActionColumns::default()
        };
        Self {
            columns,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Appends a row. Rows without an action type are a caller bug.
    pub fn push(&mut self, row: &ActionRow<'_>) {
        let c = &mut self.columns;
        c.action_at.push(row.action_at);
        c.user
            .push(intern(&mut self.users, &mut c.users, row.user_id));
        c.job_id.push(row.job_id);
        c.action_type
            .push(row.action_type.map_or(0, |kind| kind as u8));
        c.source.push(row.source.map_or(0, |source| source as u8));
        c.section.push(
            row.section
                .map_or(NO_REF, |s| intern(&mut self.sections, &mut c.sections, s)),
        );
        c.endcl_cd.push(
            row.endcl_cd
                .map_or(NO_REF, |s| intern(&mut self.companies, &mut c.companies, s)),
        );
        c.pref_cd.push(row.pref_cd);
        c.city_cd.push(row.city_cd);
        c.occupation_cd1.push(row.occupation_cd1);
        c.employment_type_cd.push(row.employment_type_cd);
        c.salary_type_cd.push(row.salary_type_cd);
        c.min_salary.push(row.min_salary);
        c.max_salary.push(row.max_salary);
        c.fee.push(row.fee);
        c.feature_codes.push(row.feature_codes.unwrap_or(&[]));
        c.flags.push(if row.feature_codes.is_some() {
            flags::HAS_FEATURES
        } else {
            0
        });
        c.extra.push(
            row.extra
                .map_or(NO_REF, |s| intern(&mut self.extras, &mut c.extras, s)),
        );
    }

    pub fn finish(self) -> ActionColumns {
        self.columns
    }
}

impl ActionColumns {
    /// Merges `incoming` into `self` (both may be unsorted): the result is sorted by identity
    /// with one row per identity; where both hold an identity, the row already stored wins.
    /// Returns the merged columns and how many rows of `incoming` were new.
    pub fn merge(&self, incoming: &ActionColumns) -> (ActionColumns, usize) {
        #[derive(Clone, Copy)]
        struct Key<'a> {
            at: i64,
            user: &'a str,
            job: u64,
            kind: u8,
            from_incoming: bool,
            row: usize,
        }
        let mut keys: Vec<Key<'_>> = Vec::with_capacity(self.len() + incoming.len());
        for (from_incoming, columns) in [(false, self), (true, incoming)] {
            for row in 0..columns.len() {
                keys.push(Key {
                    at: columns.action_at[row],
                    user: columns.user_id(row),
                    job: columns.job_id[row],
                    kind: columns.action_type[row],
                    from_incoming,
                    row,
                });
            }
        }
        keys.sort_unstable_by(|a, b| {
            (a.at, a.user, a.job, a.kind, a.from_incoming, a.row).cmp(&(
                b.at,
                b.user,
                b.job,
                b.kind,
                b.from_incoming,
                b.row,
            ))
        });
        keys.dedup_by(|later, earlier| {
            (later.at, later.user, later.job, later.kind)
                == (earlier.at, earlier.user, earlier.job, earlier.kind)
        });
        let mut builder = ActionColumnsBuilder::new();
        let mut n_new = 0;
        for key in &keys {
            let source = if key.from_incoming { incoming } else { self };
            n_new += usize::from(key.from_incoming);
            builder.push(&source.row(key.row));
        }
        (builder.finish(), n_new)
    }
}

/// An application with every cell set, for tests.
#[cfg(test)]
pub(crate) fn sample_row(user: &str, job: u64, at: i64) -> ActionRow<'_> {
    ActionRow {
        user_id: user,
        job_id: job,
        action_type: Some(ActionType::Applied),
        action_at: at,
        source: Some(ActionSource::Email),
        section: Some("top5"),
        endcl_cd: Some("EC1"),
        pref_cd: 13,
        fee: 800,
        feature_codes: Some(&[100, 103]),
        ..ActionRow::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sample_row as row;

    #[test]
    fn action_types_parse_case_insensitively() {
        assert_eq!(ActionType::parse(" Applied "), Ok(ActionType::Applied));
        assert!(ActionType::parse("purchase").is_err());
    }

    #[test]
    fn merging_keeps_one_row_per_identity_and_counts_new_rows() {
        let mut stored = ActionColumnsBuilder::new();
        stored.push(&row("u1", 10, 5));
        let stored = stored.finish();
        let mut incoming = ActionColumnsBuilder::new();
        let mut changed = row("u1", 10, 5);
        changed.fee = 999;
        incoming.push(&changed);
        incoming.push(&row("u0", 10, 5));
        incoming.push(&row("u0", 10, 5));
        let (merged, n_new) = stored.merge(&incoming.finish());
        assert_eq!(n_new, 1);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged.user_id(0), "u0");
        assert_eq!(merged.row(1).fee, 800, "the stored row wins");
    }
}
