//! The exports of a date's results: its picks (CSV or JSON lines) and its job scores
//! (CSV), written to any [`std::io::Write`] the caller gives.
//!
//! Each export is two steps: loading checks that there is something to export (an
//! explanation otherwise) before the caller creates its output, so a failed export leaves
//! no empty file behind; writing then cannot find the data missing.

use std::io::Write;

use jiff::civil::Date;

use super::ServiceError;
use super::explain::{Missing, explain_no_day, explain_no_picks};
use crate::domain::UserId;
use crate::domain::batch::{JobScoreTable, UserPicks};
use crate::matching::Tier;
use crate::matching::reasons::Reason;
use crate::scoring::SectionKind;
use crate::store::Store;

/// The formats of the picks export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PicksFormat {
    Csv,
    /// One JSON object per pick and line.
    Jsonl,
}

/// A date's stored picks, ready to write.
#[derive(Debug, Clone)]
pub struct PicksExport {
    pub date: Date,
    /// In user id order.
    pub users: Vec<UserPicks>,
}

/// Loads the picks of `date` (of `user` alone when given); an error explains why there
/// are none.
pub async fn load_picks(
    store: &dyn Store,
    date: Date,
    user: Option<&UserId>,
) -> Result<PicksExport, ServiceError> {
    let users = store.picks(date, user).await?;
    if users.is_empty() {
        let explanation = match user {
            Some(user) => explain_no_picks(store, date, user, Missing::Picks).await?,
            None => match explain_no_day(store, date).await? {
                Some(day) => format!("no picks stored for {date}: {day}"),
                None => format!(
                    "no picks stored for {date}: its daily run found no active, subscribed and unsuppressed user (see `mailscore batch list`)"
                ),
            },
        };
        return Err(ServiceError::NotFound { explanation });
    }
    Ok(PicksExport { date, users })
}

impl PicksExport {
    /// Writes the picks as `format`, rows sorted by user, section order and rank; returns
    /// the number of rows. `out` is flushed.
    pub fn write(&self, format: PicksFormat, out: &mut dyn Write) -> Result<usize, ServiceError> {
        let date = self.date;
        let mut rows = 0usize;
        let six = |v: f64| format!("{v:.6}");
        match format {
            PicksFormat::Csv => {
                let mut writer = csv::Writer::from_writer(&mut *out);
                writer.write_record([
                    "date",
                    "user_id",
                    "section",
                    "rank",
                    "job_id",
                    "tier",
                    "personalized",
                    "basic",
                    "seo",
                    "total",
                    "editorial",
                    "reasons",
                ])?;
                for user_picks in &self.users {
                    let mut picks = user_picks.picks.clone();
                    picks.sort_by_key(|p| (p.section, p.rank));
                    for pick in picks {
                        writer.write_record([
                            date.to_string(),
                            user_picks.user_id.to_string(),
                            SectionKind::from_code(pick.section)
                                .map_or("?", SectionKind::as_str)
                                .to_owned(),
                            pick.rank.to_string(),
                            pick.job_id.to_string(),
                            Tier::from_code(pick.tier)
                                .map_or("?", |t| t.as_str())
                                .to_owned(),
                            six(pick.personalized),
                            six(pick.basic),
                            six(pick.seo),
                            six(pick.total),
                            six(pick.editorial),
                            Reason::labels(pick.reasons).join("|"),
                        ])?;
                        rows += 1;
                    }
                }
                writer.flush()?;
            }
            PicksFormat::Jsonl => {
                for user_picks in &self.users {
                    let mut picks = user_picks.picks.clone();
                    picks.sort_by_key(|p| (p.section, p.rank));
                    for pick in picks {
                        let line = serde_json::json!({
                            "date": date.to_string(),
                            "user_id": user_picks.user_id,
                            "section": SectionKind::from_code(pick.section).map_or("?", SectionKind::as_str),
                            "rank": pick.rank,
                            "job_id": pick.job_id,
                            "tier": Tier::from_code(pick.tier).map_or("?", |t| t.as_str()),
                            "personalized": pick.personalized,
                            "basic": pick.basic,
                            "seo": pick.seo,
                            "total": pick.total,
                            "editorial": pick.editorial,
                            "reasons": Reason::labels(pick.reasons),
                            "fallback": user_picks.fallback,
                        });
                        writeln!(out, "{line}")?;
                        rows += 1;
                    }
                }
            }
        }
        out.flush()?;
        Ok(rows)
    }
}

/// A date's stored job scores, ready to write.
#[derive(Debug, Clone)]
pub struct ScoresExport {
    pub date: Date,
    pub table: JobScoreTable,
}

/// Loads the job scores of `date`; an error says how to compute them.
pub async fn load_scores(store: &dyn Store, date: Date) -> Result<ScoresExport, ServiceError> {
    let Some(table) = store.job_scores(date).await? else {
        return Err(ServiceError::NotFound {
            explanation: format!(
                "no job scores stored for {date}; run `mailscore batch run --date {date} --until scores` first"
            ),
        });
    };
    Ok(ScoresExport { date, table })
}

impl ScoresExport {
    /// Writes every job's scores as CSV, in job id order; returns the number of jobs.
    /// `out` is flushed.
    pub fn write(&self, out: &mut dyn Write) -> Result<usize, ServiceError> {
        let table = &self.table;
        {
            let mut writer = csv::Writer::from_writer(&mut *out);
            writer.write_record([
                "job_id",
                "basic",
                "wage",
                "fee",
                "popularity",
                "seo",
                "needs_categories",
                "occupation_category",
                "matched_keywords",
            ])?;
            let six = |v: f64| format!("{v:.6}");
            for i in 0..table.len() {
                writer.write_record([
                    table.job_id[i].to_string(),
                    six(table.basic[i]),
                    six(table.wage[i]),
                    six(table.fee[i]),
                    six(table.popularity[i]),
                    six(table.seo[i]),
                    table.needs.get(i).to_owned(),
                    if table.occupation_category[i] == 0 {
                        String::new()
                    } else {
                        table.occupation_category[i].to_string()
                    },
                    table.matched_keywords.get(i).to_owned(),
                ])?;
            }
            writer.flush()?;
        }
        out.flush()?;
        Ok(table.len())
    }
}
