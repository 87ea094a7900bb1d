//! The values a key can hold: Redis's five classic types.
//!
//! Strings, lists, hashes and sets map onto standard containers. A sorted
//! set needs two views of the same data, a member → score map for `ZSCORE`
//! and an index ordered by (score, member) for `ZRANGE` and `ZPOPMIN`;
//! [`ZSet`] keeps both in step. Redis uses a skip list for the ordered
//! view; here it is a `BTreeSet`, which gives the same O(log n) inserts,
//! removals and seeks, but no O(log n) rank (see [`ZSet::rank`]).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;

use indexmap::{IndexMap, IndexSet};

// ANCHOR: hasher
/// The hash every shard uses, and the hash maps and sets inside values. All
/// shards of one server share one instance (it is cloned), so a key hashes
/// the same for routing and for lookup. std's SipHash-1-3 under a key drawn
/// at random per process: every key comes from a client, and a keyed
/// pseudo-random hash keeps a client who crafts keys from piling them into
/// one bucket. The `foldhash` feature swaps in foldhash (faster, seeded per
/// process, but its authors claim only minimal resistance to crafted keys);
/// lab-04's build-settings experiment measures what the swap is worth.
#[cfg(not(feature = "foldhash"))]
pub type Hasher = std::hash::RandomState;
/// The hash every shard uses (see the build without `foldhash`): foldhash's
/// fast `RandomState`.
#[cfg(feature = "foldhash")]
pub type Hasher = foldhash::fast::RandomState;
// ANCHOR_END: hasher

/// A stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A binary-safe string (also what `INCR` works on).
    Str(Vec<u8>),
    /// A list: O(1) push and pop at both ends.
    List(VecDeque<Vec<u8>>),
    /// A hash: field → value.
    Hash(IndexMap<Vec<u8>, Vec<u8>, Hasher>),
    /// A set. An `IndexSet` so that `SPOP` can pick a random member by
    /// index and remove it in O(1) (`swap_remove_index`).
    Set(IndexSet<Vec<u8>, Hasher>),
    /// A sorted set.
    ZSet(ZSet),
}

impl Value {
    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// An empty hash.
    pub fn new_hash() -> Self {
        Value::Hash(IndexMap::with_hasher(Hasher::default()))
    }

    /// An empty set.
    pub fn new_set() -> Self {
        Value::Set(IndexSet::with_hasher(Hasher::default()))
    }

    /// An empty list.
    pub fn new_list() -> Self {
        Value::List(VecDeque::new())
    }

    /// An empty sorted set.
    pub fn new_zset() -> Self {
        Value::ZSet(ZSet::new())
    }

    /// Whether this is an aggregate with no elements left (Redis deletes
    /// such keys). A string is never "empty" in that sense.
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

/// A score that is never NaN, ordered numerically (`-0.0 == 0.0`, as in
/// Redis, which compares scores with `<`).
#[derive(Debug, Clone, Copy)]
struct Score(f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        // Never NaN, so `<` and `>` decide every pair.
        if self.0 < other.0 {
            Ordering::Less
        } else if self.0 > other.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }
}

/// The member half of a position in the ordered index: a real member, or
/// a bound above every member of its score (used to seek past a score).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberPos<'a> {
    Exact(&'a [u8]),
    Top,
}

impl Ord for MemberPos<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (MemberPos::Exact(a), MemberPos::Exact(b)) => a.cmp(b),
            (MemberPos::Exact(_), MemberPos::Top) => Ordering::Less,
            (MemberPos::Top, MemberPos::Exact(_)) => Ordering::Greater,
            (MemberPos::Top, MemberPos::Top) => Ordering::Equal,
        }
    }
}

impl PartialOrd for MemberPos<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One element of the ordered index.
#[derive(Debug, Clone)]
struct Entry {
    score: Score,
    member: Vec<u8>,
}

/// A position in the ordered index, owned ([`Entry`]) or borrowed
/// ([`Probe`]). The index is searched through `dyn Position`, so a lookup
/// by (score, member) needs no allocation.
trait Position {
    fn position(&self) -> (Score, MemberPos<'_>);
}

impl Position for Entry {
    fn position(&self) -> (Score, MemberPos<'_>) {
        (self.score, MemberPos::Exact(&self.member))
    }
}

struct Probe<'a>(Score, MemberPos<'a>);

impl Position for Probe<'_> {
    fn position(&self) -> (Score, MemberPos<'_>) {
        (self.0, self.1)
    }
}

impl PartialEq for dyn Position + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.position() == other.position()
    }
}

impl Eq for dyn Position + '_ {}

impl PartialOrd for dyn Position + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn Position + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.position().cmp(&other.position())
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.position() == other.position()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.position().cmp(&other.position())
    }
}

impl<'a> Borrow<dyn Position + 'a> for Entry {
    fn borrow(&self) -> &(dyn Position + 'a) {
        self
    }
}

/// The error of inserting a NaN score: a sorted set never holds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NanScore;

/// One end of a score range: `(1.5` is `Excluded(1.5)`, `1.5` is
/// `Included(1.5)`, `-inf`/`+inf` are included infinities.
pub type ScoreBound = Bound<f64>;

/// A sorted set: members with scores, ordered by (score, member).
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: HashMap<Vec<u8>, f64, Hasher>,
    order: BTreeSet<Entry>,
}

impl PartialEq for ZSet {
    /// Same members with the same scores.
    fn eq(&self, other: &Self) -> bool {
        self.scores == other.scores
    }
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of `member`. O(1).
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Adds `member` or moves it to `score`; returns its previous score.
    /// O(log n). A NaN score is refused and changes nothing.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Result<Option<f64>, NanScore> {
        if score.is_nan() {
            return Err(NanScore);
        }
        match self.scores.get_mut(member) {
            Some(current) => {
                let old = *current;
                if old.to_bits() != score.to_bits() {
                    *current = score;
                    let probe = Probe(Score(old), MemberPos::Exact(member));
                    let entry = self.order.take(&probe as &dyn Position);
                    // The index always holds what the map holds; rebuild
                    // the entry if it somehow did not.
                    let mut entry = entry.unwrap_or_else(|| Entry {
                        score: Score(old),
                        member: member.to_vec(),
                    });
                    entry.score = Score(score);
                    self.order.insert(entry);
                }
                Ok(Some(old))
            }
            None => {
                self.scores.insert(member.to_vec(), score);
                self.order.insert(Entry {
                    score: Score(score),
                    member: member.to_vec(),
                });
                Ok(None)
            }
        }
    }

    /// Removes `member`; returns its score. O(log n).
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        let probe = Probe(Score(score), MemberPos::Exact(member));
        self.order.remove(&probe as &dyn Position);
        Some(score)
    }

    /// The 0-based rank of `member` in ascending order.
    ///
    /// O(rank), so O(n) at worst: a `BTreeSet` does not count the elements
    /// below a position (Redis's skip list keeps span counts and does this
    /// in O(log n)). Fine for the sizes this lab stores.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let probe = Probe(Score(score), MemberPos::Exact(member));
        let below: (Bound<&dyn Position>, Bound<&dyn Position>) =
            (Bound::Unbounded, Bound::Excluded(&probe));
        Some(self.order.range::<dyn Position, _>(below).count())
    }

    /// The 0-based rank of `member` in descending order. O(n), as
    /// [`rank`](Self::rank).
    pub fn rev_rank(&self, member: &[u8]) -> Option<usize> {
        self.rank(member).map(|r| self.len() - 1 - r)
    }

    /// All members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + ExactSizeIterator {
        self.order.iter().map(|e| (e.member.as_slice(), e.score.0))
    }

    /// Elements `start..=stop` by ascending rank, with Redis's index rules:
    /// negative indices count from the end, out-of-range ends are clamped,
    /// an empty range yields nothing. O(start + returned).
    pub fn range(
        &self,
        start: i64,
        stop: i64,
    ) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + ExactSizeIterator {
        let (first, count) = index_range(start, stop, self.len()).unwrap_or((0, 0));
        self.range_at(first, count)
    }

    /// `count` elements from ascending rank `first`. O(first + count).
    pub fn range_at(
        &self,
        first: usize,
        count: usize,
    ) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + ExactSizeIterator {
        self.iter().skip(first).take(count)
    }

    /// Elements whose score lies between `min` and `max`, ascending.
    /// O(log n + returned).
    pub fn range_by_score(
        &self,
        min: ScoreBound,
        max: ScoreBound,
    ) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        let probes = score_range_probes(min, max);
        let empty = probes.is_none();
        // An empty range becomes [x, x): nothing, and no inverted bounds.
        let (lo, hi) = probes.unwrap_or((
            Probe(Score(f64::NEG_INFINITY), MemberPos::Exact(b"")),
            Probe(Score(f64::NEG_INFINITY), MemberPos::Exact(b"")),
        ));
        let lo_bound = match min {
            Bound::Excluded(_) if !empty => Bound::Excluded(&lo as &dyn Position),
            _ => Bound::Included(&lo as &dyn Position),
        };
        let hi_bound = Bound::Excluded(&hi as &dyn Position);
        self.order
            .range::<dyn Position, _>((lo_bound, hi_bound))
            .map(|e| (e.member.as_slice(), e.score.0))
    }

    /// How many elements have a score between `min` and `max`. O(log n +
    /// counted).
    pub fn count_by_score(&self, min: ScoreBound, max: ScoreBound) -> usize {
        self.range_by_score(min, max).count()
    }

    /// Removes and returns up to `count` elements with the lowest scores,
    /// lowest first. O(count · log n).
    pub fn pop_min(&mut self, count: usize) -> Vec<(Vec<u8>, f64)> {
        let mut popped = Vec::with_capacity(count.min(self.len()));
        while popped.len() < count {
            let Some(entry) = self.order.pop_first() else {
                break;
            };
            self.scores.remove(entry.member.as_slice());
            popped.push((entry.member, entry.score.0));
        }
        popped
    }

    /// Removes and returns up to `count` elements with the highest scores,
    /// highest first. O(count · log n).
    pub fn pop_max(&mut self, count: usize) -> Vec<(Vec<u8>, f64)> {
        let mut popped = Vec::with_capacity(count.min(self.len()));
        while popped.len() < count {
            let Some(entry) = self.order.pop_last() else {
                break;
            };
            self.scores.remove(entry.member.as_slice());
            popped.push((entry.member, entry.score.0));
        }
        popped
    }
}

/// The probes bounding a score range, or `None` if the range is empty
/// (`BTreeSet::range` panics on inverted bounds, so those never reach it).
/// The low probe sits before every member of the low score (or, excluded,
/// after all of them: `Top`); the high probe, always used as an excluded
/// bound, sits after every member of the high score (or, for an excluded
/// high end, before all of them).
fn score_range_probes(
    min: ScoreBound,
    max: ScoreBound,
) -> Option<(Probe<'static>, Probe<'static>)> {
    let (lo, lo_pos) = match min {
        Bound::Included(x) => (x, MemberPos::Exact(b"")),
        Bound::Excluded(x) => (x, MemberPos::Top),
        Bound::Unbounded => (f64::NEG_INFINITY, MemberPos::Exact(b"")),
    };
    let (hi, hi_pos) = match max {
        Bound::Included(x) => (x, MemberPos::Top),
        Bound::Excluded(x) => (x, MemberPos::Exact(b"")),
        Bound::Unbounded => (f64::INFINITY, MemberPos::Top),
    };
    if lo.is_nan() || hi.is_nan() {
        return None;
    }
    let lo_excl = matches!(min, Bound::Excluded(_));
    let hi_excl = matches!(max, Bound::Excluded(_));
    if lo > hi || (lo == hi && (lo_excl || hi_excl)) {
        return None;
    }
    Some((Probe(Score(lo), lo_pos), Probe(Score(hi), hi_pos)))
}

/// Redis's rule for an index range `start..=stop` over `len` elements
/// (`LRANGE`, `ZRANGE`): negative indices count from the end, the start
/// is clamped to 0 and the stop to the last element. Returns the first
/// index and the count, or `None` if the range is empty.
pub fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, (stop - start + 1) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(z: &ZSet) -> Vec<(String, f64)> {
        z.iter()
            .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s))
            .collect()
    }

    fn sample() -> ZSet {
        let mut z = ZSet::new();
        for (m, s) in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("bb", 2.0), ("d", 4.0)] {
            assert_eq!(z.insert(m.as_bytes(), s), Ok(None));
        }
        z
    }

    #[test]
    fn type_names() {
        assert_eq!(Value::Str(vec![]).type_name(), "string");
        assert_eq!(Value::new_list().type_name(), "list");
        assert_eq!(Value::new_hash().type_name(), "hash");
        assert_eq!(Value::new_set().type_name(), "set");
        assert_eq!(Value::new_zset().type_name(), "zset");
        assert!(Value::new_set().is_empty_aggregate());
        assert!(!Value::Str(vec![]).is_empty_aggregate());
    }

    #[test]
    fn orders_by_score_then_member() {
        let z = sample();
        let names: Vec<String> = members(&z).into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, ["a", "b", "bb", "c", "d"]);
        assert_eq!(z.len(), 5);
    }

    #[test]
    fn update_moves_member() {
        let mut z = sample();
        assert_eq!(z.insert(b"a", 10.0), Ok(Some(1.0)));
        assert_eq!(z.score(b"a"), Some(10.0));
        assert_eq!(z.len(), 5);
        assert_eq!(z.rank(b"a"), Some(4));
        assert_eq!(z.rank(b"b"), Some(0));
        assert_eq!(z.rev_rank(b"a"), Some(0));
        assert_eq!(z.insert(b"a", f64::NAN), Err(NanScore));
        assert_eq!(z.score(b"a"), Some(10.0));
        // Same score: no change.
        assert_eq!(z.insert(b"a", 10.0), Ok(Some(10.0)));
        assert_eq!(z.order.len(), 5);
    }

    #[test]
    fn negative_zero_equals_zero() {
        let mut z = ZSet::new();
        z.insert(b"b", 0.0).unwrap();
        z.insert(b"a", -0.0).unwrap();
        let names: Vec<String> = members(&z).into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(z.remove(b"a"), Some(-0.0));
        assert_eq!(z.order.len(), 1);
    }

    #[test]
    fn remove_and_rank() {
        let mut z = sample();
        assert_eq!(z.remove(b"b"), Some(2.0));
        assert_eq!(z.remove(b"b"), None);
        assert_eq!(z.rank(b"bb"), Some(1));
        assert_eq!(z.rank(b"zz"), None);
        assert_eq!(z.len(), 4);
        assert_eq!(z.order.len(), 4);
    }

    #[test]
    fn index_ranges_like_redis() {
        let z = sample();
        let r: Vec<&[u8]> = z.range(0, -1).map(|(m, _)| m).collect();
        assert_eq!(r.len(), 5);
        let r: Vec<&[u8]> = z.range(-2, -1).map(|(m, _)| m).collect();
        assert_eq!(r, [b"c".as_slice(), b"d"]);
        let r: Vec<&[u8]> = z.range(1, 2).rev().map(|(m, _)| m).collect();
        assert_eq!(r, [b"bb".as_slice(), b"b"]);
        assert_eq!(z.range(3, 1).count(), 0);
        assert_eq!(z.range(5, 10).count(), 0);
        assert_eq!(z.range(-100, 0).count(), 1);
        assert_eq!(z.range(0, 100).count(), 5);
        assert_eq!(index_range(0, -1, 0), None);
        assert_eq!(index_range(-3, -1, 2), Some((0, 2)));
        assert_eq!(index_range(i64::MIN, i64::MAX, 3), Some((0, 3)));
    }

    #[test]
    fn score_ranges() {
        let z = sample();
        let get = |min, max| -> Vec<String> {
            z.range_by_score(min, max)
                .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
                .collect()
        };
        use Bound::*;
        assert_eq!(get(Included(2.0), Included(3.0)), ["b", "bb", "c"]);
        assert_eq!(get(Excluded(2.0), Included(3.0)), ["c"]);
        assert_eq!(get(Included(2.0), Excluded(3.0)), ["b", "bb"]);
        assert_eq!(get(Excluded(2.0), Excluded(2.0)), Vec::<String>::new());
        assert_eq!(get(Included(2.0), Included(2.0)), ["b", "bb"]);
        assert_eq!(get(Included(3.0), Included(2.0)), Vec::<String>::new());
        assert_eq!(
            get(Included(f64::NEG_INFINITY), Included(f64::INFINITY)).len(),
            5
        );
        assert_eq!(get(Unbounded, Excluded(1.0)), Vec::<String>::new());
        assert_eq!(z.count_by_score(Excluded(1.0), Unbounded), 4);
        let rev: Vec<&[u8]> = z
            .range_by_score(Included(1.0), Included(2.0))
            .rev()
            .map(|(m, _)| m)
            .collect();
        assert_eq!(rev, [b"bb".as_slice(), b"b", b"a"]);
    }

    #[test]
    fn pops() {
        let mut z = sample();
        let p = z.pop_min(2);
        assert_eq!(p, vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.0)]);
        let p = z.pop_max(1);
        assert_eq!(p, vec![(b"d".to_vec(), 4.0)]);
        assert_eq!(z.len(), 2);
        let p = z.pop_min(10);
        assert_eq!(p.len(), 2);
        assert!(z.is_empty());
        assert!(z.order.is_empty());
        assert!(z.pop_min(1).is_empty());
    }

    #[test]
    fn equality_ignores_insertion_order() {
        let a = sample();
        let mut b = ZSet::new();
        for (m, s) in [("d", 4.0), ("bb", 2.0), ("b", 2.0), ("a", 1.0), ("c", 3.0)] {
            b.insert(m.as_bytes(), s).unwrap();
        }
        assert_eq!(a, b);
        b.insert(b"a", 1.5).unwrap();
        assert_ne!(a, b);
    }
}
