//! numpy's legacy global stream (`np.random.seed(S)` followed by `np.random.*` calls),
//! reproduced bit for bit.
//!
//! The legacy `RandomState` is an MT19937 bit generator plus the "legacy" distribution
//! code that numpy freezes so that old seeds keep producing the same numbers. Everything
//! here follows that C code (`mt19937.c`, `legacy-distributions.c`, `distributions.c`)
//! operation by operation, because any reordering of floating-point arithmetic or of the
//! 32-bit words consumed would change every later draw.

use super::mt19937::Mt19937;

/// numpy's legacy `RandomState` (MT19937 + the legacy Gaussian cache).
#[derive(Clone)]
pub struct NumpyRandomState {
    mt: Mt19937,
    /// Polar Box–Muller produces two normals per accepted pair; legacy numpy keeps the
    /// second one here and returns it on the next normal draw.
    gauss: Option<f64>,
}

impl NumpyRandomState {
    /// `np.random.seed(seed)` for an integer seed.
    ///
    /// numpy's `_legacy_seeding` sends a Python int through `mt19937_seed`, which is
    /// Matsumoto–Nishimura's `init_genrand` (not `init_by_array`: that is only used when the
    /// seed is an array). Checked: after `np.random.seed(0)` the key starts `0, 1,
    /// 1812433255` and `pos` is 624. Seeding also clears the Gaussian cache.
    pub fn seed(seed: u32) -> Self {
        NumpyRandomState { mt: Mt19937::new(seed), gauss: None }
    }

    /// One raw tempered 32-bit MT19937 word (`next_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// `next_uint64`: the first word drawn is the high half.
    pub fn next_u64(&mut self) -> u64 {
        self.mt.next_u64()
    }

    /// `np.random.random_sample()`: 53-bit double from two words, `(a>>5, b>>6)`.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// Legacy `np.random.randint(low, high)` (default dtype int64), also what every element
    /// of `randint(low, high, size=...)` draws.
    ///
    /// numpy's legacy `RandomState` uses masked rejection: the range `high-1-low` is
    /// covered by the smallest all-ones mask, words are masked and rejected while above
    /// the range. Ranges that fit in 32 bits draw one 32-bit word per try; a range of 0
    /// draws nothing; wider ranges draw 64-bit words (two 32-bit words, high first).
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(low < high, "randint: low >= high");
        let rng = (high as u64).wrapping_sub(1).wrapping_sub(low as u64);
        let off = low as u64;
        let mut mask = rng;
        for sh in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> sh;
        }
        let v = if rng == 0 {
            0
        } else if rng <= 0xffff_ffff {
            if rng == 0xffff_ffff {
                self.next_u32() as u64
            } else {
                let mask = mask as u32;
                loop {
                    let v = self.next_u32() & mask;
                    if v as u64 <= rng {
                        break v as u64;
                    }
                }
            }
        } else if rng == u64::MAX {
            self.next_u64()
        } else {
            loop {
                let v = self.next_u64() & mask;
                if v <= rng {
                    break v;
                }
            }
        };
        off.wrapping_add(v) as i64
    }

    /// `np.random.choice(list_of_n)` (with replacement, no `p`): legacy `choice` draws
    /// `randint(0, n)` and indexes the list with it, so this returns that index.
    pub fn choice_index(&mut self, n: usize) -> usize {
        assert!(n > 0, "choice: a must be non-empty");
        self.randint(0, n as i64) as usize
    }

    /// `legacy_gauss`: polar Box–Muller; returns `f*x2` and caches `f*x1` for the next call.
    fn standard_normal(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        let (x1, x2, r2) = loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if !(r2 >= 1.0 || r2 == 0.0) {
                break (x1, x2, r2);
            }
        };
        let f = (-2.0 * r2.ln() / r2).sqrt();
        self.gauss = Some(f * x1);
        f * x2
    }

    /// `np.random.normal(loc, scale)`: `loc + scale * legacy_gauss()`.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.standard_normal()
    }

    /// `np.random.normal(loc, scale, size)` with scalar `loc`/`scale`: one `normal` per
    /// element in C order (the Gaussian cache carries across elements and calls).
    pub fn normal_fill(&mut self, loc: f64, scale: f64, out: &mut [f64]) {
        for o in out {
            *o = self.normal(loc, scale);
        }
    }

    /// Legacy `np.random.binomial(n, p)`.
    ///
    /// `legacy_random_binomial`: for `p <= 0.5` inversion when `n*p <= 30`, BTPE otherwise;
    /// for `p > 0.5` the same on `q = 1-p` and the result is `n - X`. Unlike the new
    /// `Generator`, there is no early return for `n == 0` or `p == 0`: those still draw
    /// one double (checked against numpy 2.4).
    pub fn binomial(&mut self, n: i64, p: f64) -> i64 {
        if p <= 0.5 {
            if p * n as f64 <= 30.0 {
                self.binomial_inversion(n, p)
            } else {
                self.binomial_btpe(n, p)
            }
        } else {
            let q = 1.0 - p;
            if q * n as f64 <= 30.0 {
                n - self.binomial_inversion(n, q)
            } else {
                n - self.binomial_btpe(n, q)
            }
        }
    }

    fn binomial_inversion(&mut self, n: i64, p: f64) -> i64 {
        // numpy caches these per (n, p); recomputing gives the same values.
        let q = 1.0 - p;
        let qn = (n as f64 * q.ln()).exp();
        let np = n as f64 * p;
        let lim = np + 10.0 * (np * q + 1.0).sqrt();
        let bound = if (n as f64) < lim { n as f64 } else { lim } as i64;
        let mut x: i64 = 0;
        let mut px = qn;
        let mut u = self.random_sample();
        while u > px {
            x += 1;
            if x > bound {
                x = 0;
                px = qn;
                u = self.random_sample();
            } else {
                u -= px;
                px = ((n - x + 1) as f64 * p * px) / (x as f64 * q);
            }
        }
        x
    }

    fn binomial_btpe(&mut self, n: i64, p: f64) -> i64 {
        let nf = n as f64;
        let r = if p < 1.0 - p { p } else { 1.0 - p };
        let q = 1.0 - r;
        let fm = nf * r + r;
        let m = fm.floor() as i64;
        let mf = m as f64;
        let p1 = (2.195 * (nf * r * q).sqrt() - 4.6 * q).floor() + 0.5;
        let xm = mf + 0.5;
        let xl = xm - p1;
        let xr = xm + p1;
        let c = 0.134 + 20.5 / (15.3 + mf);
        let a = (fm - xl) / (fm - xl * r);
        let laml = a * (1.0 + a / 2.0);
        let a = (xr - fm) / (xr * q);
        let lamr = a * (1.0 + a / 2.0);
        let p2 = p1 * (1.0 + 2.0 * c);
        let p3 = p2 + c / laml;
        let p4 = p3 + c / lamr;
        // Stirling-series correction term used in the final acceptance test.
        let corr = |f: f64| {
            let f2 = f * f;
            (13680. - (462. - (132. - (99. - 140. / f2) / f2) / f2) / f2) / f / 166320.
        };

        let mut y = loop {
            // Step10
            let nrq = nf * r * q;
            let u = self.random_sample() * p4;
            let mut v = self.random_sample();
            let y: i64;
            if u <= p1 {
                break (xm - p1 * v + u).floor() as i64;
            } else if u <= p2 {
                // Step20
                let x = xl + (u - p1) / c;
                v = v * c + 1.0 - (mf - x + 0.5).abs() / p1;
                if v > 1.0 {
                    continue;
                }
                y = x.floor() as i64;
            } else if u <= p3 {
                // Step30
                let yf = (xl + v.ln() / laml).floor();
                if v == 0.0 || yf < 0.0 {
                    continue;
                }
                y = yf as i64;
                v = v * (u - p2) * laml;
            } else {
                // Step40
                let yf = (xr - v.ln() / lamr).floor();
                if v == 0.0 || yf > nf {
                    continue;
                }
                y = yf as i64;
                v = v * (u - p3) * lamr;
            }
            // Step50
            let k = (y - m).abs();
            if !(k > 20 && (k as f64) < nrq / 2.0 - 1.0) {
                let s = r / q;
                let a = s * (n + 1) as f64;
                let mut f = 1.0;
                if m < y {
                    for i in m + 1..=y {
                        f *= a / i as f64 - s;
                    }
                } else if m > y {
                    for i in y + 1..=m {
                        f /= a / i as f64 - s;
                    }
                }
                if v > f {
                    continue;
                }
                break y;
            }
            // Step52
            let kf = k as f64;
            let rho = (kf / nrq) * ((kf * (kf / 3.0 + 0.625) + 0.16666666666666666) / nrq + 0.5);
            let t = (-k * k) as f64 / (2.0 * nrq);
            let big_a = v.ln();
            if big_a < t - rho {
                break y;
            }
            if big_a > t + rho {
                continue;
            }
            let x1 = (y + 1) as f64;
            let f1 = (m + 1) as f64;
            let z = (n + 1 - m) as f64;
            let w = (n - y + 1) as f64;
            let bound = xm * (f1 / x1).ln()
                + ((n - m) as f64 + 0.5) * (z / w).ln()
                + (y - m) as f64 * (w * r / (x1 * q)).ln()
                + corr(f1)
                + corr(z)
                + corr(x1)
                + corr(w);
            if big_a > bound {
                continue;
            }
            break y;
        };
        // Step60 (never taken from `binomial`, which passes p <= 0.5; kept as in numpy).
        if p > 0.5 {
            y = n - y;
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::NumpyRandomState;

    #[test]
    fn random_sample_matches_numpy() {
        // np.random.seed(0); np.random.random_sample(5)
        let want = [0.5488135039273248, 0.7151893663724195, 0.6027633760716439, 0.5448831829968969, 0.4236547993389047];
        let mut rs = NumpyRandomState::seed(0);
        for w in want {
            assert_eq!(rs.random_sample().to_bits(), f64::to_bits(w));
        }
        // np.random.seed(4294967295); [np.random.random_sample() for _ in range(3)]
        let mut rs = NumpyRandomState::seed(u32::MAX);
        for w in [0.0976320289940138, 0.9123828453026218, 0.78903530185164] {
            assert_eq!(rs.random_sample().to_bits(), f64::to_bits(w));
        }
    }

    #[test]
    fn raw_words_match_numpy() {
        // np.random.seed(0); np.random.randint(0, 2**32, size=4, dtype=np.uint32)
        let mut rs = NumpyRandomState::seed(0);
        for w in [2357136044u32, 2546248239, 3071714933, 3626093760] {
            assert_eq!(rs.next_u32(), w);
        }
    }

    #[test]
    fn randint_matches_numpy() {
        // np.random.seed(5); [np.random.randint(lo, hi) for lo, hi in RANGES]
        let ranges: [(i64, i64); 11] = [
            (1, 3),
            (0, 19),
            (0, 18),
            (3, 4),
            (-10, 10),
            (0, 1 << 32),
            (0, (1 << 32) + 1),
            (5, 1 << 40),
            (-(1 << 62), 1 << 62),
            (0, 7),
            (0, 1_000_000),
        ];
        let want: [i64; 11] = [2, 14, 15, 3, -4, 1562238070, 4206684233, 34745516777, -2550375600412915778, 3, 576112];
        let mut rs = NumpyRandomState::seed(5);
        for ((lo, hi), w) in ranges.into_iter().zip(want) {
            assert_eq!(rs.randint(lo, hi), w, "randint({lo}, {hi})");
        }
        // np.random.seed(5); np.random.randint(low=3, high=5, size=6)
        let mut rs = NumpyRandomState::seed(5);
        let out: Vec<i64> = (0..6).map(|_| rs.randint(3, 5)).collect();
        assert_eq!(out, [4, 3, 4, 4, 3, 3]);
    }

    #[test]
    fn choice_matches_numpy() {
        // np.random.seed(3); [np.random.choice([-1., -0.5, 0.5, 1.]) for _ in range(12)]
        let values = [-1.0, -0.5, 0.5, 1.0];
        let want = [0.5, -1.0, -0.5, 1.0, -1.0, -1.0, -1.0, -0.5, -0.5, 1.0, 0.5, 1.0];
        let mut rs = NumpyRandomState::seed(3);
        for w in want {
            assert_eq!(values[rs.choice_index(4)], w);
        }
    }

    #[test]
    fn normal_matches_numpy_including_cache() {
        // np.random.seed(1337); a = np.random.normal(0, 1, size=5)
        // b = np.random.random_sample(); c = [np.random.normal(2.0, 3.0) for _ in range(3)]
        let a =
            [-0.7031873098624105, -0.49028236278771464, -0.3218143296501526, -1.7550787171239868, 0.20666447021383047];
        let b = 0.26194292556514465;
        let c = [-4.033793718443903, 1.2018842014005648, -0.6999859584468697];
        let mut rs = NumpyRandomState::seed(1337);
        let mut out = [0f64; 5];
        rs.normal_fill(0.0, 1.0, &mut out);
        for (o, w) in out.iter().zip(a) {
            assert_eq!(o.to_bits(), f64::to_bits(w));
        }
        // The fifth normal left a cached value; random_sample does not touch it.
        assert_eq!(rs.random_sample().to_bits(), f64::to_bits(b));
        for w in c {
            assert_eq!(rs.normal(2.0, 3.0).to_bits(), f64::to_bits(w));
        }
    }

    #[test]
    fn binomial_matches_numpy() {
        // np.random.seed(7); out = list(np.random.binomial(1, 0.9, (9, 3)).ravel())
        // out += [np.random.binomial(20, 0.3) for _ in range(5)]      # inversion
        // out += [np.random.binomial(50, 0.7) for _ in range(5)]      # inversion, flipped
        // out += [np.random.binomial(1000, 0.3) for _ in range(10)]   # BTPE
        // out += [np.random.binomial(1000, 0.8) for _ in range(10)]   # BTPE, flipped
        // out += [np.random.binomial(100000, 0.5) for _ in range(10)] # BTPE, Step52
        // out += [np.random.binomial(0, 0.5), np.random.binomial(5, 0.0), np.random.binomial(5, 1.0)]
        // out += [np.random.binomial(200, 0.45) for _ in range(10)]
        // then np.random.random_sample()
        let want: [i64; 80] = [
            1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 7, 7, 6, 4, 6, 36, 35, 36,
            32, 33, 297, 299, 296, 303, 283, 323, 288, 300, 311, 297, 811, 816, 803, 815, 826, 802, 802, 800, 785, 795,
            50080, 50035, 50080, 50032, 50283, 50067, 49943, 50277, 50277, 49883, 0, 0, 5, 85, 100, 90, 86, 88, 84,
            100, 92, 83, 91,
        ];
        let calls: [(i64, f64, usize); 9] = [
            (20, 0.3, 5),
            (50, 0.7, 5),
            (1000, 0.3, 10),
            (1000, 0.8, 10),
            (100000, 0.5, 10),
            (0, 0.5, 1),
            (5, 0.0, 1),
            (5, 1.0, 1),
            (200, 0.45, 10),
        ];
        let mut rs = NumpyRandomState::seed(7);
        // np.random.binomial(1, 0.9, size=27): the same draws one at a time.
        let mut got: Vec<i64> = (0..27).map(|_| rs.binomial(1, 0.9)).collect();
        for (n, p, k) in calls {
            for _ in 0..k {
                got.push(rs.binomial(n, p));
            }
        }
        assert_eq!(got, want);
        assert_eq!(rs.random_sample().to_bits(), f64::to_bits(0.8453451587639734));
    }
}
