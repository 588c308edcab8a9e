//! User profiles (SPEC §3.4) and the geography they need: a user's location, city
//! adjacency and prefecture regions.

use std::collections::HashMap;

use super::ScoringConfig;
use super::actions::{Application, NO_COMPANY};
use crate::domain::job::none;
use crate::domain::{Masters, User};

/// Great-circle distance in km (haversine, R = 6371 km).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

/// Prefectures, regions and which cities neighbour which.
#[derive(Debug, Clone, Default)]
pub struct Geography {
    /// Region id of each prefecture (ids index `region_names`).
    pub pref_region: HashMap<u16, u16>,
    pub region_names: Vec<String>,
    pub pref_names: HashMap<u16, String>,
    pub city_pref: HashMap<u32, u16>,
    pub city_names: HashMap<u32, String>,
    /// Directed: `adjacent[c]` are the cities near `c`.
    pub adjacent: HashMap<u32, Vec<u32>>,
}

impl Geography {
    /// From the masters: the adjacency master when imported, else the up to `adjacency_max`
    /// nearest other cities within `adjacency_radius_km` (by distance, then code).
    pub fn new(masters: &Masters, config: &ScoringConfig) -> Self {
        let mut geography = Self::default();
        let mut region_ids: HashMap<&str, u16> = HashMap::new();
        for prefecture in &masters.prefectures {
            let next = region_ids.len() as u16;
            let id = *region_ids
                .entry(prefecture.region.as_str())
                .or_insert_with(|| {
                    geography.region_names.push(prefecture.region.clone());
                    next
                });
            geography.pref_region.insert(prefecture.pref_cd.get(), id);
            geography
                .pref_names
                .insert(prefecture.pref_cd.get(), prefecture.name.clone());
        }
        for city in &masters.cities {
            geography
                .city_pref
                .insert(city.city_cd.get(), city.pref_cd.get());
            geography
                .city_names
                .insert(city.city_cd.get(), city.name.clone());
        }
        if !masters.adjacency.is_empty() {
            for pair in &masters.adjacency {
                geography
                    .adjacent
                    .entry(pair.city_cd.get())
                    .or_default()
                    .push(pair.adjacent_city_cd.get());
            }
        } else {
            let located: Vec<(u32, f64, f64)> = masters
                .cities
                .iter()
                .filter_map(|c| Some((c.city_cd.get(), c.latitude?, c.longitude?)))
                .collect();
            for &(code, lat, lon) in &located {
                let mut near: Vec<(f64, u32)> = located
                    .iter()
                    .filter(|(other, ..)| *other != code)
                    .map(|&(other, other_lat, other_lon)| {
                        (haversine_km(lat, lon, other_lat, other_lon), other)
                    })
                    .filter(|(distance, _)| *distance <= config.adjacency_radius_km)
                    .collect();
                near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                near.truncate(config.adjacency_max);
                if !near.is_empty() {
                    geography
                        .adjacent
                        .insert(code, near.into_iter().map(|(_, other)| other).collect());
                }
            }
        }
        geography
    }

    pub fn region_of(&self, pref_cd: u16) -> Option<u16> {
        self.pref_region.get(&pref_cd).copied()
    }
}

/// Where a user is, as far as known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    pub pref_cd: Option<u16>,
    pub city_cd: Option<u32>,
    /// True when inferred from applications rather than given.
    pub inferred: bool,
}

/// A frequency map: value → number of applications.
pub type Counts<T> = Vec<(T, u32)>;

fn count<T: Copy + Eq>(counts: &mut Counts<T>, value: T) {
    match counts.iter_mut().find(|(v, _)| *v == value) {
        Some((_, n)) => *n += 1,
        None => counts.push((value, 1)),
    }
}

/// What a user's applications in the history window say about them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserProfile {
    pub n_applications: u32,
    pub prefectures: Counts<u16>,
    pub cities: Counts<u32>,
    pub occupations: Counts<u32>,
    pub employment_types: Counts<u16>,
    pub companies: Counts<u32>,
    /// Mean hourly equivalent of the applications that have a wage.
    pub mean_wage: Option<f64>,
    /// The last application instant per company.
    pub last_applied: Vec<(u32, i64)>,
    /// Job ids applied to.
    pub applied_jobs: Vec<u64>,
    pub location: Location,
}

impl UserProfile {
    /// Builds a profile from one user's applications (any order).
    pub fn new(user: &User, applications: &[Application], geography: &Geography) -> Self {
        let mut profile = Self {
            n_applications: applications.len() as u32,
            ..Self::default()
        };
        let mut wage_sum = 0.0;
        let mut n_wages = 0u32;
        let mut city_latest: Vec<(u32, i64)> = Vec::new();
        for application in applications {
            if application.pref_cd != none::SMALL_CODE {
                count(&mut profile.prefectures, application.pref_cd);
            }
            if application.city_cd != none::CODE {
                count(&mut profile.cities, application.city_cd);
                match city_latest
                    .iter_mut()
                    .find(|(c, _)| *c == application.city_cd)
                {
                    Some((_, at)) => *at = (*at).max(application.at),
                    None => city_latest.push((application.city_cd, application.at)),
                }
            }
            if application.occupation_cd1 != none::CODE {
                count(&mut profile.occupations, application.occupation_cd1);
            }
            if application.employment_type_cd != none::SMALL_CODE {
                count(
                    &mut profile.employment_types,
                    application.employment_type_cd,
                );
            }
            if application.company != NO_COMPANY {
                count(&mut profile.companies, application.company);
                match profile
                    .last_applied
                    .iter_mut()
                    .find(|(c, _)| *c == application.company)
                {
                    Some((_, at)) => *at = (*at).max(application.at),
                    None => profile
                        .last_applied
                        .push((application.company, application.at)),
                }
            }
            if !application.wage.is_nan() {
                wage_sum += application.wage;
                n_wages += 1;
            }
            profile.applied_jobs.push(application.job_id);
        }
        profile.mean_wage = (n_wages > 0).then(|| wage_sum / f64::from(n_wages));
        profile.applied_jobs.sort_unstable();
        profile.applied_jobs.dedup();
        profile.location = locate(user, &profile.cities, &city_latest, applications, geography);
        profile
    }
}

/// A user's location (SPEC §3.4): the given city (its prefecture from the city master), else
/// the given prefecture, else the most-applied city (ties: the most recent application, then
/// the smaller code) and its prefecture.
fn locate(
    user: &User,
    cities: &Counts<u32>,
    city_latest: &[(u32, i64)],
    applications: &[Application],
    geography: &Geography,
) -> Location {
    if let Some(city) = user.city_cd {
        let pref = geography
            .city_pref
            .get(&city.get())
            .copied()
            .or(user.pref_cd.map(|p| p.get()));
        return Location {
            pref_cd: pref,
            city_cd: Some(city.get()),
            inferred: false,
        };
    }
    if let Some(pref) = user.pref_cd {
        return Location {
            pref_cd: Some(pref.get()),
            city_cd: None,
            inferred: false,
        };
    }
    let latest = |city: u32| {
        city_latest
            .iter()
            .find(|(c, _)| *c == city)
            .map_or(i64::MIN, |(_, at)| *at)
    };
    let best = cities.iter().max_by(|(city_a, n_a), (city_b, n_b)| {
        n_a.cmp(n_b)
            .then(latest(*city_a).cmp(&latest(*city_b)))
            .then(city_b.cmp(city_a))
    });
    match best {
        Some(&(city, _)) => {
            // The city master names its prefecture; else the latest application to it does.
            let pref = geography.city_pref.get(&city).copied().or_else(|| {
                applications
                    .iter()
                    .filter(|a| a.city_cd == city && a.pref_cd != none::SMALL_CODE)
                    .max_by_key(|a| a.at)
                    .map(|a| a.pref_cd)
            });
            Location {
                pref_cd: pref,
                city_cd: Some(city),
                inferred: true,
            }
        }
        None => Location::default(),
    }
}

/// Score of a share of a frequency map (SPEC §3.5).
pub fn share_score(count: u32, total: u32) -> u8 {
    if count == 0 || total == 0 {
        return 20;
    }
    let share = f64::from(count) / f64::from(total);
    if share >= 0.5 {
        100
    } else if share >= 0.3 {
        80
    } else if share >= 0.1 {
        60
    } else {
        40
    }
}

/// Salary component (SPEC §3.5) for a job wage against the user's mean.
pub fn salary_score(job_wage: Option<f64>, user_mean: f64) -> u8 {
    let Some(wage) = job_wage else { return 30 };
    let d = (wage - user_mean).abs() / user_mean;
    if d <= 0.1 {
        100
    } else if d <= 0.2 {
        80
    } else if d <= 0.3 {
        60
    } else {
        30
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_breakpoints() {
        for (count, total, expected) in [
            (5, 10, 100),
            (3, 10, 80),
            (4, 10, 80),
            (1, 10, 60),
            (2, 10, 60),
            (1, 11, 40),
            (0, 10, 20),
            (0, 0, 20),
        ] {
            assert_eq!(share_score(count, total), expected, "{count}/{total}");
        }
    }

    #[test]
    fn salary_breakpoints() {
        for (wage, expected) in [
            (Some(1000.0), 100),
            (Some(1100.0), 100),
            (Some(900.0), 100),
            (Some(1150.0), 80),
            (Some(1200.0), 80),
            (Some(1300.0), 60),
            (Some(700.0), 60),
            (Some(1301.0), 30),
            (None, 30),
        ] {
            assert_eq!(salary_score(wage, 1000.0), expected, "{wage:?}");
        }
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // Tokyo Station to Shinjuku Station is about 6.1 km.
        let d = haversine_km(35.681236, 139.767125, 35.690921, 139.700258);
        assert!((d - 6.1).abs() < 0.2, "{d}");
    }
}
