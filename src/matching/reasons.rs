//! Short reasons a reader understands, stored with each pick as bits.

/// Why a job was picked; shown in the email (at most a few per job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    HomeArea = 0,
    NearbyArea = 1,
    HighWage = 2,
    DailyPay = 3,
    New = 4,
    FavouriteOccupation = 5,
    WageAsWanted = 6,
    PopularCompany = 7,
    Featured = 8,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Self::HomeArea,
        Self::NearbyArea,
        Self::HighWage,
        Self::DailyPay,
        Self::New,
        Self::FavouriteOccupation,
        Self::WageAsWanted,
        Self::PopularCompany,
        Self::Featured,
    ];

    pub fn bit(self) -> u16 {
        1 << (self as u8)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::HomeArea => "お住まいの地域",
            Self::NearbyArea => "近隣エリア",
            Self::HighWage => "高時給",
            Self::DailyPay => "日払いOK",
            Self::New => "新着",
            Self::FavouriteOccupation => "よく応募する職種",
            Self::WageAsWanted => "希望に近い給与",
            Self::PopularCompany => "人気の企業",
            Self::Featured => "編集部おすすめ",
        }
    }

    /// The labels of the bits set, in the order above.
    pub fn labels(bits: u16) -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|r| bits & r.bit() != 0)
            .map(|r| r.label())
            .collect()
    }
}
