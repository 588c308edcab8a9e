//! Synthetic dataset generator (placeholder until the generator lands).

pub struct GenerateOptions {
    pub jobs: usize,
    pub users: usize,
    pub days: u32,
    pub seed: u64,
    pub dirty: bool,
    pub end_date: jiff::civil::Date,
}

pub struct GenerateSummary {
    pub jobs_rows: usize,
    pub users_rows: usize,
    pub actions_rows: usize,
    pub bytes_written: u64,
}

pub fn generate(_options: &GenerateOptions, _out_dir: &std::path::Path) -> std::io::Result<GenerateSummary> {
    Err(std::io::Error::other("the generator is not built yet"))
}
