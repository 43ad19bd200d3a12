//! The two bucket sizes aggregates are kept in.

/// A bucket size: every increment is added to its minute's and its hour's bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    Minute,
    Hour,
}

impl Bucket {
    pub const ALL: [Bucket; 2] = [Bucket::Minute, Bucket::Hour];

    /// The bucket's length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Bucket::Minute => 60_000,
            Bucket::Hour => 3_600_000,
        }
    }

    /// The name stored and shown: `1m` or `1h`.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Minute => "1m",
            Bucket::Hour => "1h",
        }
    }

    pub fn from_name(name: &str) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|bucket| bucket.name() == name)
    }

    /// The start (unix ms) of the bucket holding `at_ms`.
    pub fn start_of(self, at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(self.millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_falls_in_the_bucket_that_starts_at_or_before_it() {
        assert_eq!(Bucket::Minute.start_of(125_000), 120_000);
        assert_eq!(Bucket::Minute.start_of(120_000), 120_000);
        assert_eq!(Bucket::Hour.start_of(3_600_000 + 59_999), 3_600_000);
        assert_eq!(Bucket::Minute.start_of(-1), -60_000);
    }

    #[test]
    fn bucket_names_read_back() {
        for bucket in Bucket::ALL {
            assert_eq!(Bucket::from_name(bucket.name()), Some(bucket));
        }
        assert_eq!(Bucket::from_name("1d"), None);
    }
}
