//! What scoring needs from a year of actions, in one pass: company popularity counts,
//! recent applications per job, and every user's applications with their job attributes.

use std::collections::{HashMap, HashSet};

use super::DayWindows;
use super::jobs::hourly_wage;
use crate::columnar::StrColumn;
use crate::domain::action::{ActionColumns, ActionDay, NO_REF};
use crate::domain::job::none;
use crate::domain::{ActionType, JobColumns, JobId};

/// Strings to dense ids.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    pub names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Interner {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), id);
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// "No company" in dense company ids.
pub const NO_COMPANY: u32 = u32::MAX;

/// One `applied` action in the history window, its empty snapshot cells filled from the
/// job's current record where the job is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Application {
    pub user: u32,
    pub job_id: u64,
    pub at: i64,
    pub pref_cd: u16,
    pub city_cd: u32,
    pub occupation_cd1: u32,
    pub employment_type_cd: u16,
    pub company: u32,
    /// Hourly equivalent of the pay (SPEC §3.2); NaN when there is none.
    pub wage: f64,
}

#[derive(Debug, Clone, Default)]
pub struct ActionStats {
    pub users: Interner,
    /// Job companies first (ids of `jobs.endcl_cd` in order of first appearance), then
    /// companies only actions name.
    pub companies: Interner,
    /// Per company id: distinct users who applied, and all actions (history window).
    pub company_applicants: Vec<u32>,
    pub company_actions: Vec<u32>,
    /// `applied` actions per job id in the editorial window.
    pub recent_applications: HashMap<u64, u32>,
    /// Applications in the history window, sorted by user, then instant.
    pub applications: Vec<Application>,
    /// Actions of every type in the history window.
    pub rows_in_window: u64,
    /// Days of actions that could not be decoded (left out, reported in the run record).
    pub unreadable_days: Vec<String>,
}

/// The dense company id of every job (`NO_COMPANY` where it has none), interning into `companies`.
pub fn job_companies(jobs: &JobColumns, companies: &mut Interner) -> Vec<u32> {
    (0..jobs.len())
        .map(|index| {
            let code = jobs.endcl_cd.get(index);
            if code.is_empty() {
                NO_COMPANY
            } else {
                companies.intern(code)
            }
        })
        .collect()
}

/// A company as one day sees it: a company code of the day's own dictionary, or the company
/// of a job in the current snapshot (already interned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DayCompany {
    Local(u32),
    Global(u32),
}

/// What one day of actions contributes, before its strings are interned.
#[derive(Default)]
struct DayPart {
    /// The day's dictionaries, kept after its columns are dropped.
    users: StrColumn,
    companies: StrColumn,
    /// Rows in the history window.
    rows: u64,
    /// Actions per company: of the day's dictionary, and of snapshot jobs' companies.
    local_company_actions: Vec<u32>,
    global_company_actions: HashMap<u32, u32>,
    recent_applications: HashMap<u64, u32>,
    /// Applications with the day's user reference and company.
    applications: Vec<(u32, DayCompany, Application)>,
}

fn aggregate_day(
    day: &ActionColumns,
    jobs: &JobColumns,
    job_company: &[u32],
    windows: &DayWindows,
) -> DayPart {
    let mut part = DayPart {
        local_company_actions: vec![0; day.companies.len()],
        ..DayPart::default()
    };
    for row in 0..day.len() {
        let at = day.action_at[row];
        if at < windows.history_start || at >= windows.day_start {
            continue;
        }
        part.rows += 1;
        let job_id = day.job_id[row];
        let applied = day.action_type[row] == ActionType::Applied as u8;
        // The job's current record is needed only to fill empty snapshot cells.
        let job = if applied || day.endcl_cd[row] == NO_REF {
            jobs.position(JobId::new(job_id))
        } else {
            None
        };
        let company = match day.endcl_cd[row] {
            NO_REF => match job.map(|index| job_company[index]) {
                Some(company) if company != NO_COMPANY => Some(DayCompany::Global(company)),
                _ => None,
            },
            reference => Some(DayCompany::Local(reference)),
        };
        match company {
            Some(DayCompany::Local(reference)) => {
                part.local_company_actions[reference as usize] += 1
            }
            Some(DayCompany::Global(id)) => {
                *part.global_company_actions.entry(id).or_default() += 1
            }
            None => {}
        }
        if !applied {
            continue;
        }
        if at >= windows.editorial_start {
            *part.recent_applications.entry(job_id).or_default() += 1;
        }
        let fill_u16 = |value: u16, column: &[u16]| {
            if value != none::SMALL_CODE {
                value
            } else {
                job.map_or(none::SMALL_CODE, |i| column[i])
            }
        };
        let fill_u32 = |value: u32, column: &[u32]| {
            if value != none::CODE {
                value
            } else {
                job.map_or(none::CODE, |i| column[i])
            }
        };
        let salary_type = fill_u16(day.salary_type_cd[row], &jobs.salary_type_cd);
        let min_salary = fill_u32(day.min_salary[row], &jobs.min_salary);
        let max_salary = fill_u32(day.max_salary[row], &jobs.max_salary);
        let application = Application {
            user: 0,
            job_id,
            at,
            pref_cd: fill_u16(day.pref_cd[row], &jobs.pref_cd),
            city_cd: fill_u32(day.city_cd[row], &jobs.city_cd),
            occupation_cd1: fill_u32(day.occupation_cd1[row], &jobs.occupation_cd1),
            employment_type_cd: fill_u16(day.employment_type_cd[row], &jobs.employment_type_cd),
            company: NO_COMPANY,
            wage: hourly_wage(salary_type, min_salary, max_salary).unwrap_or(f64::NAN),
        };
        part.applications.push((
            day.user[row],
            company.unwrap_or(DayCompany::Global(NO_COMPANY)),
            application,
        ));
    }
    part
}

/// Aggregates the action days (any order) for the batch windows. Days are read in
/// parallel; their strings are interned afterwards, in day order, so ids are deterministic.
pub fn aggregate(
    days: &[Box<dyn ActionDay>],
    jobs: &JobColumns,
    companies: Interner,
    windows: &DayWindows,
) -> ActionStats {
    use rayon::prelude::*;
    let mut stats = ActionStats {
        companies,
        ..ActionStats::default()
    };
    let job_company: Vec<u32> = (0..jobs.len())
        .map(|index| {
            let code = jobs.endcl_cd.get(index);
            if code.is_empty() {
                NO_COMPANY
            } else {
                stats.companies.get(code).unwrap_or(NO_COMPANY)
            }
        })
        .collect();
    // Each day is unpacked, aggregated and dropped on its own: a year of actions is never
    // held decoded at once. A day that cannot be decoded counts as empty and is reported.
    let parts: Vec<Result<DayPart, String>> = days
        .par_iter()
        .map(|stored| {
            let day = stored.columns()?.into_owned();
            let mut part = aggregate_day(&day, jobs, &job_company, windows);
            part.users = day.users;
            part.companies = day.companies;
            Ok(part)
        })
        .collect();
    let mut applicant_pairs: HashSet<(u32, u32)> = HashSet::new();
    let mut company_actions: HashMap<u32, u32> = HashMap::new();
    for part in parts {
        let part = match part {
            Ok(part) => part,
            Err(error) => {
                stats.unreadable_days.push(error);
                continue;
            }
        };
        stats.rows_in_window += part.rows;
        let day = (&part.users, &part.companies);
        let mut local_company: HashMap<u32, u32> = HashMap::new();
        let mut resolve = |company: DayCompany, stats: &mut ActionStats| match company {
            DayCompany::Global(id) => id,
            DayCompany::Local(reference) => *local_company
                .entry(reference)
                .or_insert_with(|| stats.companies.intern(day.1.get(reference as usize))),
        };
        for (reference, &count) in part.local_company_actions.iter().enumerate() {
            if count > 0 {
                let id = resolve(DayCompany::Local(reference as u32), &mut stats);
                *company_actions.entry(id).or_default() += count;
            }
        }
        for (id, count) in part.global_company_actions {
            *company_actions.entry(id).or_default() += count;
        }
        for (job_id, count) in part.recent_applications {
            *stats.recent_applications.entry(job_id).or_default() += count;
        }
        let mut local_user: HashMap<u32, u32> = HashMap::new();
        for (user_reference, company, mut application) in part.applications {
            application.user = *local_user
                .entry(user_reference)
                .or_insert_with(|| stats.users.intern(day.0.get(user_reference as usize)));
            application.company = resolve(company, &mut stats);
            if application.company != NO_COMPANY {
                applicant_pairs.insert((application.company, application.user));
            }
            stats.applications.push(application);
        }
    }
    stats.company_applicants = vec![0; stats.companies.len()];
    stats.company_actions = vec![0; stats.companies.len()];
    for (company, _) in applicant_pairs {
        stats.company_applicants[company as usize] += 1;
    }
    for (company, count) in company_actions {
        stats.company_actions[company as usize] = count;
    }
    stats
        .applications
        .sort_unstable_by_key(|a| (a.user, a.at, a.job_id));
    stats
}
