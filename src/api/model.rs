//! Wire types of the pool API and their tolerant parsing.

use std::fmt;

/// Time step of a share-history series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Hour,
    Day,
}

impl Dimension {
    pub const ALL: [Dimension; 2] = [Dimension::Hour, Dimension::Day];

    /// The API's spelling, also stored in `series.dimension`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Hour => "1h",
            Dimension::Day => "1d",
        }
    }

    pub fn step_seconds(self) -> i64 {
        match self {
            Dimension::Hour => 3_600,
            Dimension::Day => 86_400,
        }
    }

    pub fn parse(text: &str) -> Option<Dimension> {
        match text {
            "1h" => Some(Dimension::Hour),
            "1d" => Some(Dimension::Day),
            _ => None,
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
