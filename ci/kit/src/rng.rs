//! A seeded PRNG and a Zipf sampler: reproducible keys for every lab.
//!
//! Experiments draw keys from a fixed seed so that two runs (and two
//! contenders in one run) see the same sequence. Real workloads are skewed;
//! Zipf's law with exponent `s` is the usual model of that skew.

/// A small, fast PRNG (SplitMix64). Statistical quality is ample for
/// drawing keys; the benchmark needs speed and reproducibility.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (multiply-shift, no division).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Zipf-distributed ranks in `1..=n` by rejection-inversion (Hörmann and
/// Derflinger, 1996): O(1) per draw with no table, so a key space of
/// millions costs nothing to set up. This follows the formulation in
/// Apache Commons RNG's `RejectionInversionZipfSampler`.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    cutoff: f64,
}

impl Zipf {
    /// `n >= 1`, `s > 0`.
    pub fn new(n: u64, s: f64) -> Self {
        let n = n.max(1) as f64;
        let mut z = Self {
            n,
            s,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            cutoff: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n + 0.5);
        z.cutoff = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.next_f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.cutoff || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_matches_its_distribution() {
        let z = Zipf::new(100, 1.0);
        let mut rng = Rng::new(42);
        let n = 200_000;
        let mut ones = 0;
        let mut twos = 0;
        for _ in 0..n {
            let k = z.sample(&mut rng);
            assert!((1..=100).contains(&k), "{k}");
            ones += u32::from(k == 1);
            twos += u32::from(k == 2);
        }
        let harmonic: f64 = (1..=100).map(|k| 1.0 / k as f64).sum();
        let p1 = f64::from(ones) / f64::from(n);
        let p2 = f64::from(twos) / f64::from(n);
        assert!((p1 - 1.0 / harmonic).abs() < 0.01, "P(1) = {p1}");
        assert!((p2 - 0.5 / harmonic).abs() < 0.01, "P(2) = {p2}");
    }

    #[test]
    fn zipf_handles_s_above_one_and_one_key() {
        let mut rng = Rng::new(1);
        let z = Zipf::new(1, 1.1);
        assert!((0..100).all(|_| z.sample(&mut rng) == 1));
        let z = Zipf::new(1_000_000, 1.1);
        assert!((0..1000).all(|_| (1..=1_000_000).contains(&z.sample(&mut rng))));
    }
}
