//! The seeds of generated inputs: fixed by default, so the same target gets
//! the same verdict run after run; random or chosen when asked.
//!
//! A property's run seed is `PROPTEST_RNG_SEED` when set (a rerun line sets
//! it), else what `--seed` says: a number, `random` (a new seed per property
//! and run, to explore), or by default one derived from the suite's version
//! and the property's name. Input `i` of a run has a seed of its own derived
//! from the run seed and `i` ([`input_seed`]).

/// What `--seed` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Seeding {
    /// Derived from the suite's version and the property's name.
    #[default]
    Fixed,
    /// A new one for each property on each run.
    Random,
    /// This one for every property.
    Given(u64),
}

impl Seeding {
    /// Parses `--seed`: `random`, `fixed`, or a number.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "random" => Ok(Self::Random),
            "fixed" => Ok(Self::Fixed),
            n => n
                .parse()
                .map(Self::Given)
                .map_err(|_| "`random`, `fixed` or a number".to_owned()),
        }
    }
}

/// A property's run seed, and where it came from (for the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSeed {
    pub seed: u64,
    pub from: SeedSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedSource {
    /// `PROPTEST_RNG_SEED`.
    Environment,
    /// `--seed N`.
    Given,
    /// `--seed random`.
    Random,
    /// The default: the suite's version and the property's name.
    Derived,
}

impl SeedSource {
    /// How the summary and the report say where seeds came from.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Environment => "from PROPTEST_RNG_SEED",
            Self::Given => "from --seed",
            Self::Random => "drawn at random (--seed random); the next run draws others",
            Self::Derived => "fixed: derived from the suite's version and each property's name (--seed random explores others)",
        }
    }

    /// A word for the report.
    pub fn word(self) -> &'static str {
        match self {
            Self::Environment => "PROPTEST_RNG_SEED",
            Self::Given => "given",
            Self::Random => "random",
            Self::Derived => "fixed",
        }
    }
}

/// The run seed of property `name`: `rng_seed` (`PROPTEST_RNG_SEED`) if
/// set, else as `seeding` says.
pub fn run_seed(rng_seed: Option<u64>, seeding: Seeding, name: &str) -> RunSeed {
    let (seed, from) = match (rng_seed, seeding) {
        (Some(seed), _) => (seed, SeedSource::Environment),
        (None, Seeding::Given(seed)) => (seed, SeedSource::Given),
        (None, Seeding::Random) => (random(), SeedSource::Random),
        (None, Seeding::Fixed) => (
            derived(env!("CARGO_PKG_VERSION"), name),
            SeedSource::Derived,
        ),
    };
    RunSeed { seed, from }
}

/// The seeds the properties of `verdicts` ran with, for stderr after the
/// run (with `--seed random`, the only record of what was explored); `None`
/// when no property ran.
pub fn summary(
    verdicts: &[crate::verdict::Verdict],
    seeding: Seeding,
    rng_seed: Option<u64>,
) -> Option<String> {
    let mut seeds: Vec<String> = verdicts
        .iter()
        .filter_map(|v| {
            Some(format!(
                "  {} PROPTEST_RNG_SEED={}",
                v.place.test, v.place.seed?
            ))
        })
        .collect();
    if seeds.is_empty() {
        return None;
    }
    seeds.sort();
    let from = run_seed(rng_seed, seeding, "").from;
    Some(format!("seeds, {}:\n{}", from.describe(), seeds.join("\n")))
}

/// FNV-1a over the version and the name: the same on every machine and
/// every build of the same version (std's hashers promise neither).
fn derived(version: &str, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in version.bytes().chain([0]).chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    mix(hash)
}

fn random() -> u64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ])
}

/// The seed of input `index` of a run seeded `seed`: the run's own seed for
/// the first, so `PROPTEST_RNG_SEED=<an input's seed> PROPTEST_CASES=1` runs
/// exactly that input.
pub fn input_seed(seed: u64, index: usize) -> u64 {
    if index == 0 {
        return seed;
    }
    mix(seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// splitmix64's finaliser: neighbouring inputs get unrelated outputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inputs_seed_replays_it_as_the_first_of_a_run() {
        assert_eq!(input_seed(42, 0), 42);
        let seeds: Vec<u64> = (0..1000).map(|i| input_seed(42, i)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len(), "every input has its own seed");
    }

    #[test]
    fn the_default_seed_is_fixed_per_version_and_property() {
        let unset = None;
        let a = run_seed(unset, Seeding::Fixed, "prop::a");
        assert_eq!(a, run_seed(unset, Seeding::Fixed, "prop::a"));
        assert_eq!(a.from, SeedSource::Derived);
        assert_ne!(a.seed, run_seed(unset, Seeding::Fixed, "prop::b").seed);
        assert_ne!(derived("0.1.0", "p"), derived("0.2.0", "p"));
        // The value is pinned: a change of the derivation changes every
        // user's verdicts, and must be a decision, not an accident.
        assert_eq!(
            derived("0.1.0", "prop::invite::accepts_valid_bodies"),
            12_853_784_262_531_127_055
        );
        assert_ne!(
            run_seed(unset, Seeding::Random, "prop::a").seed,
            run_seed(unset, Seeding::Random, "prop::a").seed
        );
        assert_eq!(run_seed(unset, Seeding::Given(7), "prop::a").seed, 7);
        let set = Some(9);
        assert_eq!(
            run_seed(set, Seeding::Random, "prop::a"),
            RunSeed {
                seed: 9,
                from: SeedSource::Environment
            }
        );
        assert_eq!(Seeding::parse("random"), Ok(Seeding::Random));
        assert_eq!(Seeding::parse("12"), Ok(Seeding::Given(12)));
        assert!(Seeding::parse("often").is_err());
    }
}
