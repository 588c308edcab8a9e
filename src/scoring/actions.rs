//! What scoring needs from a year of actions, in one pass: company popularity counts,
//! recent applications per job, and every user's applications with their job attributes.

use std::collections::{HashMap, HashSet};

use super::DayWindows;
use super::jobs::hourly_wage;
use crate::domain::action::{ActionColumns, NO_REF};
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

/// Aggregates the action days (any order) for the batch windows.
pub fn aggregate(
    days: &[ActionColumns],
    jobs: &JobColumns,
    companies: Interner,
    windows: &DayWindows,
) -> ActionStats {
    let mut stats = ActionStats {
        companies,
        ..ActionStats::default()
    };
    let mut applicant_pairs: HashSet<(u32, u32)> = HashSet::new();
    let mut company_actions: HashMap<u32, u32> = HashMap::new();
    for day in days {
        let user_ids: Vec<u32> = day
            .users
            .iter()
            .map(|name| stats.users.intern(name))
            .collect();
        let day_companies: Vec<u32> = day
            .companies
            .iter()
            .map(|code| stats.companies.intern(code))
            .collect();
        for row in 0..day.len() {
            let at = day.action_at[row];
            if at < windows.history_start || at >= windows.day_start {
                continue;
            }
            let job_id = day.job_id[row];
            let job = jobs.position(JobId::new(job_id));
            let company = match day.endcl_cd[row] {
                NO_REF => job.map_or(NO_COMPANY, |index| {
                    let code = jobs.endcl_cd.get(index);
                    if code.is_empty() {
                        NO_COMPANY
                    } else {
                        stats.companies.intern(code)
                    }
                }),
                reference => day_companies[reference as usize],
            };
            if company != NO_COMPANY {
                *company_actions.entry(company).or_default() += 1;
            }
            if day.action_type[row] != ActionType::Applied as u8 {
                continue;
            }
            let user = user_ids[day.user[row] as usize];
            if company != NO_COMPANY {
                applicant_pairs.insert((company, user));
            }
            if at >= windows.editorial_start {
                *stats.recent_applications.entry(job_id).or_default() += 1;
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
            stats.applications.push(Application {
                user,
                job_id,
                at,
                pref_cd: fill_u16(day.pref_cd[row], &jobs.pref_cd),
                city_cd: fill_u32(day.city_cd[row], &jobs.city_cd),
                occupation_cd1: fill_u32(day.occupation_cd1[row], &jobs.occupation_cd1),
                employment_type_cd: fill_u16(day.employment_type_cd[row], &jobs.employment_type_cd),
                company,
                wage: hourly_wage(salary_type, min_salary, max_salary).unwrap_or(f64::NAN),
            });
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
