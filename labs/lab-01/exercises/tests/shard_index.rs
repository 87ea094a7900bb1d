//! Checks exercise `shard-index`.

use lab_01_exercises::shard_index::shard_index;

/// Well-mixed 64-bit values, reproducible (SplitMix64).
fn hashes(n: usize) -> impl Iterator<Item = u64> {
    let mut x = 0x1234_5678_u64;
    (0..n).map(move |_| {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

#[test]
fn one_shard_means_shard_zero() {
    for h in hashes(100).chain([0, u64::MAX]) {
        let got = shard_index(h, 1);
        assert_eq!(
            got, 0,
            "shard_index({h:#018x}, 1) returned {got}; with one shard every key is in shard 0"
        );
    }
}

#[test]
fn the_result_is_always_in_range() {
    for bits in 0..=16 {
        let shards = 1usize << bits;
        for h in hashes(1000).chain([0, u64::MAX]) {
            let got = shard_index(h, shards);
            assert!(
                got < shards,
                "shard_index({h:#018x}, {shards}) returned {got}, but there are only {shards} shards (0..={})",
                shards - 1
            );
        }
    }
}

#[test]
fn uses_the_bits_just_below_the_top_seven() {
    for bits in 1..=16u32 {
        let shards = 1usize << bits;
        for s in [0, 1, shards / 2, shards - 1] {
            let hash = (s as u64) << (57 - bits);
            let got = shard_index(hash, shards);
            assert_eq!(
                got,
                s,
                "with {shards} shards, hash {hash:#018x} has the value {s} in bits {}..57 \
                 (just below the top 7), so it belongs in shard {s}; got shard {got}",
                57 - bits
            );
        }
    }
}

#[test]
fn ignores_the_tag_bits_and_the_low_bits() {
    for bits in 0..=16u32 {
        let shards = 1usize << bits;
        for h in hashes(200) {
            let base = shard_index(h, shards);
            let tag_changed = h ^ (0x7F << 57);
            let low_changed = h ^ 0xFFFF_FFFF;
            assert_eq!(
                shard_index(tag_changed, shards),
                base,
                "changing only the top 7 bits (hashbrown's tag) moved hash {h:#018x} to another shard ({shards} shards)"
            );
            assert_eq!(
                shard_index(low_changed, shards),
                base,
                "changing only the low 32 bits (hashbrown's bucket bits) moved hash {h:#018x} to another shard ({shards} shards)"
            );
        }
    }
}

#[test]
fn spreads_random_hashes_evenly() {
    let shards = 64;
    let n = 64 * 1024;
    let mut counts = vec![0usize; shards];
    for h in hashes(n) {
        let s = shard_index(h, shards);
        assert!(s < shards, "shard_index returned {s} for {shards} shards");
        counts[s] += 1;
    }
    let expected = n / shards;
    for (s, &c) in counts.iter().enumerate() {
        assert!(
            c > expected * 3 / 4 && c < expected * 5 / 4,
            "shard {s} got {c} of {n} well-mixed hashes; expected about {expected} (every shard should get a fair share)"
        );
    }
}
