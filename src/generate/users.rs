//! `users.csv`: the users, and what the action generator knows about each of them.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::Rng;

use super::calendar::{Calendar, SECONDS_PER_DAY, Stamp, TOKYO_OFFSET};
use super::records::{Digits, RecordWriter, concat_columns, csv_writer, finish, flag};
use super::sampling::{Every, Weighted, pick};
use super::vocabulary::GIVEN_NAMES;
use super::{ACTIONS_PER_USER_PER_DAY, FIRST_USER_ID, Feed, GenerateOptions, rng_for, stream};

/// The importer's columns, required then optional: the generator writes exactly what it reads.
pub(super) const USER_COLUMNS: [&str; 10] = concat_columns(
    crate::ingest::users::REQUIRED_COLUMNS,
    crate::ingest::users::OPTIONAL_COLUMNS,
);

pub(super) const AGE_RANGES: [&str; 11] = [
    "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64", "65-",
];
pub(super) const AGE_RANGE_WEIGHTS: [f64; 11] =
    [10.0, 22.0, 14.0, 10.0, 9.0, 9.0, 8.0, 6.0, 5.0, 4.0, 3.0];
pub(super) const EMAIL_DOMAINS: [&str; 6] = [
    "example.com",
    "example.jp",
    "example.net",
    "mail.example.com",
    "mobile.example.jp",
    "ezweb.example.net",
];

/// What the action generator knows about a user, including what `users.csv` does not say.
pub(super) struct User {
    pub(super) user_id: u32,
    pub(super) home_city: u32,
    pub(super) occupations: [u16; 2],
    pub(super) n_occupations: usize,
    /// Expected actions per active day.
    pub(super) rate: f64,
    /// Active days of the window, as day indices `[first, last)`.
    pub(super) active: (u32, u32),
}

pub(super) fn write_users(
    feed: &Feed,
    options: &GenerateOptions,
    path: &Path,
) -> io::Result<(Vec<User>, usize)> {
    let world = feed.world;
    let calendar = feed.calendar;
    let mut rng = rng_for(options.seed, stream::USERS);
    let mut dirt_rng = rng_for(options.seed, stream::DIRTY_USERS);
    let mut csv = csv_writer(path)?;
    csv.write_record(USER_COLUMNS)?;
    let n_users = options.users;
    let bad_emails = Every::new(n_users, 6, 4, 0.3);
    let repeated_ids = Every::new(n_users, 2, 5, 0.7);
    let window = options.days;
    let age_weights = Weighted::new(AGE_RANGE_WEIGHTS);
    let mut users = Vec::with_capacity(n_users);
    let mut digits = Digits::new();
    let mut email = String::new();
    let mut created = String::new();
    let mut rows = 0;
    for user_idx in 0..n_users {
        let user_id = FIRST_USER_ID + user_idx as u32;
        let home_city = world.city_weights.sample(&mut rng) as u32;
        let named = rng.random_bool(0.4);
        let (given_name, romaji, name_gender) = *pick(&mut rng, &GIVEN_NAMES);
        email.clear();
        let domain =
            EMAIL_DOMAINS[Weighted::new([50.0, 25.0, 15.0, 4.0, 3.0, 3.0]).sample(&mut rng)];
        let _ = match rng.random_range(0..4) {
            0 => write!(email, "user{user_id}@{domain}"),
            1 => write!(email, "{romaji}{user_id}@{domain}"),
            2 => write!(email, "{romaji}.{user_id}@{domain}"),
            _ => write!(email, "{romaji}_{user_id}@{domain}"),
        };
        let location = rng.random::<f64>();
        let city = &world.cities[home_city as usize];
        let pref_cd = world.prefectures[city.pref_slot].pref_cd;
        let age_range = if rng.random_bool(0.85) {
            AGE_RANGES[age_weights.sample(&mut rng)]
        } else {
            ""
        };
        let gender = match rng.random_range(0..20) {
            0..=1 => "",
            _ if named && rng.random_bool(0.9) => name_gender,
            2..=10 => "m",
            _ => "f",
        };
        let is_active = rng.random_bool(0.95);
        let subscribed = rng.random_bool(0.92);
        let created_days_ago = rng.random_range(1..=1095);
        calendar_stamp(
            calendar,
            &mut created,
            Stamp::new(-created_days_ago, rng.random_range(0..SECONDS_PER_DAY)),
        );

        if options.dirty && bad_emails.hits(user_idx) {
            email.clear();
            email.push_str(pick::<&str>(
                &mut dirt_rng,
                &[
                    "not-an-email",
                    "a@b",
                    "",
                    "user@@example.com",
                    "test@example",
                ],
            ));
        }
        let write_row = |csv: &mut csv::Writer<BufWriter<File>>,
                         digits: &mut Digits,
                         user_id: u32,
                         email: &str|
         -> io::Result<()> {
            let mut row = RecordWriter {
                csv,
                columns: &USER_COLUMNS,
                position: 0,
            };
            row.field("user_id", digits.format(u64::from(user_id)))?;
            row.field("email", email)?;
            row.field("name", if named { given_name } else { "" })?;
            let pref_text = pref_cd.to_string();
            row.field(
                "pref_cd",
                if location < 0.4 {
                    pref_text.as_str()
                } else {
                    ""
                },
            )?;
            let city_text = city.city_cd.to_string();
            row.field(
                "city_cd",
                if location < 0.3 {
                    city_text.as_str()
                } else {
                    ""
                },
            )?;
            row.field("age_range", age_range)?;
            row.field("gender", gender)?;
            row.field("is_active", flag(is_active))?;
            row.field("subscribed", flag(subscribed))?;
            row.field("created_at", &created)?;
            row.end()
        };
        write_row(&mut csv, &mut digits, user_id, &email)?;
        rows += 1;
        if options.dirty && repeated_ids.hits(user_idx) && user_idx > 0 {
            // The same user id again, as an export that lists a changed address a second time.
            let earlier = FIRST_USER_ID + dirt_rng.random_range(0..user_idx as u32);
            let changed = format!("changed{earlier}@example.org");
            write_row(&mut csv, &mut digits, earlier, &changed)?;
            rows += 1;
        }

        let n_occupations = if rng.random_bool(0.6) { 1 } else { 2 };
        let occupations = [
            world.category_weights.sample(&mut rng) as u16,
            world.category_weights.sample(&mut rng) as u16,
        ];
        // Heavy-tailed activity: a Pareto weight, with a third of the users only occasional.
        let mut weight = rng.random::<f64>().max(1e-9).powf(-1.0 / 1.3).min(100.0);
        if rng.random_bool(0.35) {
            weight *= 0.15;
        }
        let joined_in_window = window.saturating_sub(created_days_ago as u32);
        let first = joined_in_window.min(window.saturating_sub(1));
        let last = if rng.random_bool(0.2) && window > first + 1 {
            rng.random_range(first + 1..=window)
        } else {
            window
        };
        users.push(User {
            user_id,
            home_city,
            occupations,
            n_occupations,
            rate: weight,
            active: (first, last),
        });
    }
    let mut file = finish(csv)?;
    file.flush()?;

    // Scale the weights so that the expected total is the wanted actions per user and day.
    let expected: f64 = users
        .iter()
        .map(|u| u.rate * f64::from(u.active.1 - u.active.0))
        .sum();
    if expected > 0.0 {
        let scale = ACTIONS_PER_USER_PER_DAY * n_users as f64 * f64::from(window) / expected;
        for user in &mut users {
            user.rate *= scale;
        }
    }
    Ok((users, rows))
}

pub(super) fn calendar_stamp(calendar: &Calendar, out: &mut String, stamp: Stamp) {
    out.clear();
    calendar.push_stamp(out, stamp, TOKYO_OFFSET);
}
