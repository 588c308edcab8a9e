//! The domain model: jobs, users, actions, masters and keywords, with validated newtypes.
//!
//! Nothing here does I/O. Values of these types are valid by construction: raw text is
//! checked once, at the edge (the importers), through the `parse` functions of this module.

pub mod account;
pub mod action;
pub mod batch;
pub mod bounce;
pub mod ids;
pub mod job;
pub mod master;
pub mod report;
pub mod time;
pub mod user;
pub mod value;

pub use action::{ActionSource, ActionType};
pub use ids::{CityCode, EmailAddress, Fee, JobId, PrefCode, UserId};
pub use job::{JobColumns, JobFields, JobRecord};
pub use master::{
    Adjacency, City, EmploymentType, Feature, Keyword, Masters, Occupation, Prefecture, SalaryType,
};
pub use report::{ImportReport, ImportStatus, RowIssue, Severity};
pub use time::TimeZoneSetting;
pub use user::{Consent, Suppression, SuppressionReason, User};
